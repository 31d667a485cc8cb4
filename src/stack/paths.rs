//! Making relative paths absolute (build contexts, env_file, bind sources, secret/config files,
//! extends files), against a base directory; `~` expands to HOME. OWNER: helper H2.
//!
//! Follows compose-go's `paths` package: which keys hold paths, and which values are left alone
//! (absolute paths, remote build contexts, `service:` contexts). Paths are normalised lexically
//! (`.` and `..` removed); the filesystem is never consulted.

use std::path::{Component, Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::Environment;

/// Makes every relative path of a (merged or single-file) tree absolute against `base`.
pub(crate) fn resolve_relative_paths(tree: &mut Value, base: &Path, env: &Environment) {
    let r = Resolver {
        base,
        home: env.get("HOME"),
    };
    let Some(top) = tree.as_mapping_mut() else {
        return;
    };
    if let Some(services) = map_mut(top, "services") {
        for (_, service) in services.iter_mut() {
            if let Some(service) = untag_mut(service).as_mapping_mut() {
                r.service(service);
            }
        }
    }
    for kind in ["secrets", "configs"] {
        if let Some(objects) = map_mut(top, kind) {
            for (_, object) in objects.iter_mut() {
                if let Some(file) = untag_mut(object)
                    .as_mapping_mut()
                    .and_then(|o| o.get_mut("file"))
                {
                    r.path_value(file);
                }
            }
        }
    }
    if let Some(volumes) = map_mut(top, "volumes") {
        for (_, volume) in volumes.iter_mut() {
            if let Some(volume) = untag_mut(volume).as_mapping_mut() {
                r.volume_driver_opts(volume);
            }
        }
    }
}

/// Makes relative `services.*.extends.file` values absolute against `base` (leaving the rest
/// alone): extends files in the stack files named on the command line are relative to the
/// project directory, as in Compose.
pub(crate) fn resolve_extends_files(tree: &mut Value, base: &Path, env: &Environment) {
    let r = Resolver {
        base,
        home: env.get("HOME"),
    };
    let Some(services) = tree.as_mapping_mut().and_then(|t| map_mut(t, "services")) else {
        return;
    };
    for (_, service) in services.iter_mut() {
        if let Some(file) = untag_mut(service)
            .as_mapping_mut()
            .and_then(|s| s.get_mut("extends"))
            .and_then(|e| untag_mut(e).as_mapping_mut())
            .and_then(|e| e.get_mut("file"))
        {
            r.path_value(file);
        }
    }
}

/// `path` made absolute against `base` (`~` expanded with `home`), normalised lexically.
pub(crate) fn absolutize(path: &str, base: &Path, home: Option<&str>) -> String {
    let expanded = expand_user(path, home);
    let joined = if Path::new(&expanded).is_absolute() {
        PathBuf::from(&expanded)
    } else {
        base.join(&expanded)
    };
    clean(&joined).to_string_lossy().into_owned()
}

/// `~` at the start of `path` replaced by `home` (Compose joins the rest onto HOME).
fn expand_user(path: &str, home: Option<&str>) -> String {
    match (path.strip_prefix('~'), home) {
        (Some(rest), Some(home)) => Path::new(home)
            .join(rest.trim_start_matches('/'))
            .to_string_lossy()
            .into_owned(),
        _ => path.to_string(),
    }
}

/// Lexical normalisation: drops `.` components and folds `..` into its parent (never above
/// the root of an absolute path).
pub(crate) fn clean(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// Build contexts that are not local paths: URLs, git references, `service:` contexts.
fn is_remote_context(s: &str) -> bool {
    s.contains("://")
        || s.starts_with("service:")
        || ["github.com/", "git@"].iter().any(|p| s.starts_with(p))
}

struct Resolver<'a> {
    base: &'a Path,
    home: Option<&'a str>,
}

impl Resolver<'_> {
    fn abs(&self, s: &str) -> String {
        absolutize(s, self.base, self.home)
    }

    /// A scalar path value (untouched when it is not a non-empty string).
    fn path_value(&self, v: &mut Value) {
        if let Value::String(s) = untag_mut(v) {
            if !s.is_empty() {
                *s = self.abs(s);
            }
        }
    }

    /// A string or a list of strings.
    fn path_or_list(&self, v: &mut Value) {
        match untag_mut(v) {
            Value::Sequence(items) => items.iter_mut().for_each(|i| self.path_value(i)),
            other => self.path_value(other),
        }
    }

    fn context_value(&self, v: &mut Value) {
        if let Value::String(s) = untag_mut(v) {
            if !is_remote_context(s) {
                *s = self.abs(s);
            }
        }
    }

    fn service(&self, service: &mut Mapping) {
        if let Some(build) = service.get_mut("build") {
            self.build(build);
        }
        if let Some(env_file) = service.get_mut("env_file") {
            match untag_mut(env_file) {
                Value::Sequence(items) => {
                    for item in items.iter_mut() {
                        match untag_mut(item) {
                            Value::Mapping(m) => {
                                if let Some(p) = m.get_mut("path") {
                                    self.path_value(p);
                                }
                            }
                            other => self.path_value(other),
                        }
                    }
                }
                other => self.path_value(other),
            }
        }
        if let Some(label_file) = service.get_mut("label_file") {
            self.path_or_list(label_file);
        }
        if let Some(file) = service
            .get_mut("extends")
            .and_then(|e| untag_mut(e).as_mapping_mut())
            .and_then(|e| e.get_mut("file"))
        {
            self.path_value(file);
        }
        if let Some(Value::Sequence(volumes)) = service.get_mut("volumes").map(untag_mut) {
            for volume in volumes.iter_mut() {
                self.service_volume(untag_mut(volume));
            }
        }
        if let Some(watch) = service
            .get_mut("develop")
            .and_then(|d| untag_mut(d).as_mapping_mut())
            .and_then(|d| d.get_mut("watch"))
            .and_then(|w| untag_mut(w).as_sequence_mut())
        {
            for rule in watch.iter_mut() {
                if let Some(p) = untag_mut(rule)
                    .as_mapping_mut()
                    .and_then(|r| r.get_mut("path"))
                {
                    self.path_value(p);
                }
            }
        }
    }

    fn build(&self, build: &mut Value) {
        if matches!(untag_mut(build), Value::String(_)) {
            return self.context_value(build);
        }
        let Value::Mapping(build) = untag_mut(build) else {
            return;
        };
        if let Some(context) = build.get_mut("context") {
            self.context_value(context);
        }
        match build.get_mut("additional_contexts").map(untag_mut) {
            Some(Value::Mapping(m)) => m.values_mut().for_each(|v| self.context_value(v)),
            Some(Value::Sequence(items)) => {
                for item in items.iter_mut() {
                    if let Value::String(s) = untag_mut(item) {
                        if let Some((name, ctx)) = s.split_once('=') {
                            if !is_remote_context(ctx) {
                                *s = format!("{name}={}", self.abs(ctx));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        match build.get_mut("ssh").map(untag_mut) {
            Some(Value::Mapping(m)) => m.values_mut().for_each(|v| self.path_value(v)),
            Some(Value::Sequence(items)) => {
                for item in items.iter_mut() {
                    if let Value::String(s) = untag_mut(item) {
                        if let Some((key, path)) = s.split_once('=') {
                            *s = format!("{key}={}", self.abs(path));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn service_volume(&self, volume: &mut Value) {
        match volume {
            // Short syntax: only a source starting with `.` or `~` is a relative host path.
            Value::String(s) => {
                if let Some((source, rest)) = s.split_once(':') {
                    if source.starts_with('.') || source.starts_with('~') {
                        *s = format!("{}:{rest}", self.abs(source));
                    }
                }
            }
            Value::Mapping(m) => {
                let is_bind = m.get("type").and_then(Value::as_str) == Some("bind");
                if is_bind {
                    if let Some(source) = m.get_mut("source") {
                        self.path_value(source);
                    }
                }
            }
            _ => {}
        }
    }

    /// A top-level volume with the local driver and `o: bind` names a host path in `device`.
    fn volume_driver_opts(&self, volume: &mut Mapping) {
        if volume.get("driver").and_then(Value::as_str) != Some("local") {
            return;
        }
        let Some(opts) = volume
            .get_mut("driver_opts")
            .and_then(|o| untag_mut(o).as_mapping_mut())
        else {
            return;
        };
        if opts.get("o").and_then(Value::as_str) != Some("bind") {
            return;
        }
        if let Some(device) = opts.get_mut("device") {
            self.path_value(device);
        }
    }
}

fn map_mut<'m>(m: &'m mut Mapping, key: &str) -> Option<&'m mut Mapping> {
    m.get_mut(key).and_then(|v| untag_mut(v).as_mapping_mut())
}

/// The value under any YAML tags.
pub(crate) fn untag_mut(v: &mut Value) -> &mut Value {
    match v {
        Value::Tagged(t) => untag_mut(&mut t.value),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env() -> Environment {
        Environment::from_map(BTreeMap::from([("HOME".into(), "/home/u".into())]))
    }

    fn resolve(yaml: &str) -> Value {
        let mut v: Value = serde_yaml::from_str(yaml).unwrap();
        resolve_relative_paths(&mut v, Path::new("/proj"), &env());
        v
    }

    fn at<'v>(v: &'v Value, path: &[&str]) -> &'v Value {
        path.iter().fold(v, |v, k| match k.parse::<usize>() {
            Ok(i) => &v[i],
            Err(_) => &v[*k],
        })
    }

    #[test]
    fn clean_is_lexical() {
        assert_eq!(clean(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(clean(Path::new("/../a")), PathBuf::from("/a"));
        assert_eq!(clean(Path::new("a/../../b")), PathBuf::from("../b"));
        assert_eq!(absolutize(".", Path::new("/proj"), None), "/proj");
        assert_eq!(absolutize("../x/", Path::new("/proj/sub"), None), "/proj/x");
        assert_eq!(absolutize("/abs/./p", Path::new("/proj"), None), "/abs/p");
        assert_eq!(absolutize("~/d", Path::new("/proj"), Some("/h")), "/h/d");
        assert_eq!(absolutize("~", Path::new("/proj"), Some("/h")), "/h");
        // Without HOME, `~` stays a (relative) name, as Compose leaves it.
        assert_eq!(absolutize("~/d", Path::new("/proj"), None), "/proj/~/d");
    }

    #[test]
    fn build_contexts() {
        let v = resolve(
            "services:\n  a: {build: .}\n  b: {build: {context: ./b, dockerfile: x/Dockerfile}}\n  \
             c: {build: 'https://github.com/x/y.git#main'}\n  d: {build: {context: 'git@github.com:x/y'}}\n  \
             e: {build: {context: ../e, additional_contexts: {base: ./base, img: 'docker-image://alpine', s: 'service:a'}}}\n  \
             f: {build: {context: /abs, additional_contexts: [extra=./extra]}}\n",
        );
        assert_eq!(at(&v, &["services", "a", "build"]), "/proj");
        assert_eq!(at(&v, &["services", "b", "build", "context"]), "/proj/b");
        assert_eq!(
            at(&v, &["services", "b", "build", "dockerfile"]),
            "x/Dockerfile"
        );
        assert_eq!(
            at(&v, &["services", "c", "build"]),
            "https://github.com/x/y.git#main"
        );
        assert_eq!(
            at(&v, &["services", "d", "build", "context"]),
            "git@github.com:x/y"
        );
        let e = at(&v, &["services", "e", "build"]);
        assert_eq!(e["context"], "/e");
        assert_eq!(e["additional_contexts"]["base"], "/proj/base");
        assert_eq!(e["additional_contexts"]["img"], "docker-image://alpine");
        assert_eq!(e["additional_contexts"]["s"], "service:a");
        let f = at(&v, &["services", "f", "build"]);
        assert_eq!(f["context"], "/abs");
        assert_eq!(f["additional_contexts"][0], "extra=/proj/extra");
    }

    #[test]
    fn env_files_in_every_form() {
        let v = resolve(
            "services:\n  a: {env_file: .env}\n  b: {env_file: [a.env, /abs.env]}\n  \
             c: {env_file: [{path: ./c.env, required: false}, ~/h.env]}\n",
        );
        assert_eq!(at(&v, &["services", "a", "env_file"]), "/proj/.env");
        assert_eq!(at(&v, &["services", "b", "env_file", "0"]), "/proj/a.env");
        assert_eq!(at(&v, &["services", "b", "env_file", "1"]), "/abs.env");
        assert_eq!(
            at(&v, &["services", "c", "env_file", "0", "path"]),
            "/proj/c.env"
        );
        assert_eq!(at(&v, &["services", "c", "env_file", "1"]), "/home/u/h.env");
    }

    #[test]
    fn volumes_short_and_long() {
        let v = resolve(
            "services:\n  a:\n    volumes:\n      - ./data:/data:ro\n      - ../up:/up\n      - ~/cache:/cache\n      \
             - named:/n\n      - /abs:/abs\n      - /anon\n      - {type: bind, source: rel, target: /r}\n      \
             - {type: volume, source: vol, target: /v}\n",
        );
        let vols = at(&v, &["services", "a", "volumes"]);
        assert_eq!(vols[0], "/proj/data:/data:ro");
        assert_eq!(vols[1], "/up:/up");
        assert_eq!(vols[2], "/home/u/cache:/cache");
        assert_eq!(vols[3], "named:/n");
        assert_eq!(vols[4], "/abs:/abs");
        assert_eq!(vols[5], "/anon");
        assert_eq!(vols[6]["source"], "/proj/rel");
        assert_eq!(vols[7]["source"], "vol");
    }

    #[test]
    fn top_level_files_and_extends() {
        let v = resolve(
            "services:\n  a: {extends: {file: ../common.yml, service: base}}\n\
             secrets:\n  s: {file: ./s.txt}\n  e: {environment: TOKEN}\nconfigs:\n  c: {file: /etc/c}\n\
             volumes:\n  d: {driver: local, driver_opts: {type: none, o: bind, device: ./dev}}\n  \
             n: {driver_opts: {device: ./keep}}\n",
        );
        assert_eq!(at(&v, &["services", "a", "extends", "file"]), "/common.yml");
        assert_eq!(at(&v, &["secrets", "s", "file"]), "/proj/s.txt");
        assert_eq!(at(&v, &["secrets", "e", "environment"]), "TOKEN");
        assert_eq!(at(&v, &["configs", "c", "file"]), "/etc/c");
        assert_eq!(
            at(&v, &["volumes", "d", "driver_opts", "device"]),
            "/proj/dev"
        );
        assert_eq!(at(&v, &["volumes", "n", "driver_opts", "device"]), "./keep");
    }

    #[test]
    fn extends_files_only() {
        let mut v: Value = serde_yaml::from_str(
            "services:\n  a: {extends: {file: sub/b.yml, service: b}, build: .}\n  c: {extends: c0}\n",
        )
        .unwrap();
        resolve_extends_files(&mut v, Path::new("/p"), &env());
        assert_eq!(
            at(&v, &["services", "a", "extends", "file"]),
            "/p/sub/b.yml"
        );
        assert_eq!(at(&v, &["services", "a", "build"]), ".");
        assert_eq!(at(&v, &["services", "c", "extends"]), "c0");
    }
}
