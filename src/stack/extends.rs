//! Service `extends:` (same file and other files). OWNER: helper H2.
//!
//! As in compose-go (`loader/extends.go`): `extends: svc` or `{service, file}`; the base
//! service is resolved first (chains), then the extending service is merged onto a copy of it
//! with the rules of a file merge, and `extends` is removed. Everything is inherited, including
//! `depends_on` and `volumes_from` (current Compose no longer drops them). A service from another
//! file has that file's relative paths resolved against the file's own directory first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_yaml::value::TaggedValue;
use serde_yaml::{Mapping, Value};

use super::merge::{self, KeyPath};
use super::{paths, Loader, Result, StackError};

/// Resolves every `extends` of `doc` (one stack file). Relative `extends.file` values are
/// relative to `file_dir`.
pub fn resolve_extends(doc: &mut Value, file_dir: &Path, loader: &mut Loader<'_>) -> Result<()> {
    merge::check_tags(doc, &KeyPath::root(), &loader.positions)?;
    let Some(services) = doc
        .as_mapping_mut()
        .and_then(|d| d.get_mut("services"))
        .and_then(Value::as_mapping_mut)
    else {
        return Ok(());
    };
    let mut ext = Extender {
        loader,
        files: HashMap::new(),
    };
    let this = FileRef {
        label: "this file".into(),
        dir: file_dir.to_path_buf(),
    };
    let names: Vec<String> = services
        .keys()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    for name in names {
        // Only services that extend another are touched (the rest are not copied).
        if services.get(name.as_str()).is_some_and(has_extends) {
            ext.resolve(services, &this, &name, &mut Vec::new())?;
        }
    }
    Ok(())
}

/// Whether a service (possibly under `!override`) has an `extends` key.
fn has_extends(service: &Value) -> bool {
    let service = match service {
        Value::Tagged(t) => &t.value,
        other => other,
    };
    service
        .as_mapping()
        .is_some_and(|s| s.contains_key("extends"))
}

/// The file a services mapping comes from.
#[derive(Clone)]
struct FileRef {
    /// `this file` or the file's path, for messages.
    label: String,
    /// Where its relative `extends.file` values point from.
    dir: PathBuf,
}

struct Extender<'l, 'a> {
    loader: &'l mut Loader<'a>,
    /// Other files' `services`, by absolute path: loaded once, tags stripped, paths resolved.
    files: HashMap<PathBuf, Mapping>,
}

fn extends_place(loader: &Loader<'_>, service: &str) -> super::Place {
    loader.positions.place(
        &KeyPath::root()
            .key("services")
            .key(service)
            .key("extends")
            .to_string(),
    )
}

impl Extender<'_, '_> {
    fn error(&self, service: &str, message: String) -> StackError {
        StackError::Extends {
            at: extends_place(self.loader, service),
            service: service.to_string(),
            message,
        }
    }

    /// Resolves `name` within `services` (of `file`), writing the result back; returns it.
    fn resolve(
        &mut self,
        services: &mut Mapping,
        file: &FileRef,
        name: &str,
        chain: &mut Vec<(String, String)>,
    ) -> Result<Value> {
        let Some(service) = services.get(name).cloned() else {
            return Ok(Value::Null);
        };
        // `web: !override {extends: ...}` in an override file: resolve inside the tag.
        let (tag, service) = match service {
            Value::Tagged(t) if t.tag == "override" => (Some(t.tag), t.value),
            other => (None, other),
        };
        let Some(extends) = service.as_mapping().and_then(|s| s.get("extends")).cloned() else {
            return Ok(match tag {
                Some(tag) => Value::Tagged(Box::new(TaggedValue {
                    tag,
                    value: service,
                })),
                None => service,
            });
        };
        let link = (file.label.clone(), name.to_string());
        if chain.contains(&link) {
            chain.push(link);
            let names: Vec<String> = chain.iter().map(|(f, s)| format!("`{s}` ({f})")).collect();
            return Err(self.error(
                name,
                format!(
                    "extends cycle: {}; break the cycle",
                    names.join(" extends ")
                ),
            ));
        }
        chain.push(link);
        let (base_name, base_file) = self.parse_extends(name, &extends)?;
        let base = match base_file {
            None => {
                if !services.contains_key(base_name.as_str()) {
                    return Err(self.error(
                        name,
                        format!(
                            "service `{base_name}` is not defined in {}; define it or fix the \
                             name in `extends`",
                            file.label
                        ),
                    ));
                }
                self.resolve(services, file, &base_name, chain)?
            }
            Some(rel) => {
                let path = PathBuf::from(paths::absolutize(&rel, &file.dir, None));
                let mut other = self.load(name, &path)?;
                let other_ref = FileRef {
                    label: path.display().to_string(),
                    dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
                };
                if !other.contains_key(base_name.as_str()) {
                    return Err(self.error(
                        name,
                        format!(
                            "service `{base_name}` is not defined in {}; define it there or \
                             fix `extends.service`",
                            path.display()
                        ),
                    ));
                }
                let base = self.resolve(&mut other, &other_ref, &base_name, chain)?;
                self.files.insert(path, other);
                base
            }
        };
        chain.pop();
        let path = KeyPath::root().key("services").key(name);
        let merged = match merge::extend_service(base, service, &path, &self.loader.positions)? {
            Value::Mapping(mut m) => {
                m.shift_remove("extends");
                Value::Mapping(m)
            }
            other => other,
        };
        let merged = match tag {
            Some(tag) => Value::Tagged(Box::new(TaggedValue { tag, value: merged })),
            None => merged,
        };
        services.insert(name.into(), merged.clone());
        Ok(merged)
    }

    /// `extends: svc` or `{service: svc, file: path}`.
    fn parse_extends(&self, name: &str, extends: &Value) -> Result<(String, Option<String>)> {
        match extends {
            Value::String(s) => Ok((s.clone(), None)),
            Value::Mapping(m) => {
                if let Some(k) = m
                    .keys()
                    .find(|k| !matches!(k.as_str(), Some("service" | "file")))
                {
                    return Err(self.error(
                        name,
                        format!(
                            "unknown key `{}` in `extends`; it takes `service` and `file`",
                            merge::key_string(k)
                        ),
                    ));
                }
                let service = m.get("service").and_then(Value::as_str).ok_or_else(|| {
                    self.error(
                        name,
                        "`extends.service` is missing; name the service to extend".into(),
                    )
                })?;
                let file = match m.get("file") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(f)) => Some(f.clone()),
                    Some(_) => {
                        return Err(self
                            .error(name, "`extends.file` must be a path to a stack file".into()))
                    }
                };
                Ok((service.to_string(), file))
            }
            _ => Err(self.error(
                name,
                "`extends` must be a service name or a mapping with `service` and `file`".into(),
            )),
        }
    }

    /// The `services` of another file (cached): loaded, tags checked and stripped, relative
    /// paths resolved against the file's directory.
    fn load(&mut self, name: &str, path: &Path) -> Result<Mapping> {
        if let Some(services) = self.files.get(path) {
            return Ok(services.clone());
        }
        if !path.is_file() {
            return Err(self.error(
                name,
                format!(
                    "extended file {} does not exist; fix `extends.file`",
                    path.display()
                ),
            ));
        }
        let mut doc = self.loader.load_path(path)?;
        merge::check_tags(&doc, &KeyPath::root(), &self.loader.positions)?;
        let mut doc = merge::strip_tags(std::mem::take(&mut doc)).unwrap_or(Value::Null);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        paths::resolve_relative_paths(&mut doc, &dir, self.loader.env);
        let services = match doc
            .as_mapping_mut()
            .and_then(|d| d.shift_remove("services"))
        {
            Some(Value::Mapping(s)) => s,
            _ => {
                return Err(self.error(
                    name,
                    format!("{} has no `services` to extend", path.display()),
                ))
            }
        };
        self.files.insert(path.to_path_buf(), services.clone());
        Ok(services)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{Environment, Positions};
    use std::collections::BTreeMap;

    fn env() -> Environment {
        Environment::from_map(BTreeMap::from([("HOME".into(), "/home/u".into())]))
    }

    fn run(doc: &str, dir: &Path) -> Result<Value> {
        let env = env();
        let mut loader = Loader {
            env: &env,
            interpolate: false,
            positions: Positions::default(),
        };
        let mut v: Value = serde_yaml::from_str(doc).unwrap();
        resolve_extends(&mut v, dir, &mut loader)?;
        Ok(v)
    }

    fn yaml(s: &str) -> Value {
        serde_yaml::from_str(s).unwrap()
    }

    #[test]
    fn same_file_and_chains() {
        let v = run(
            "services:\n  base: {image: a, environment: {A: 1}, ports: [\"80\"], depends_on: [db]}\n  \
             mid: {extends: base, environment: [B=2], command: [x]}\n  \
             web: {extends: {service: mid}, environment: {A: 3}, ports: [\"81\"]}\n  db: {image: d}\n",
            Path::new("/p"),
        )
        .unwrap();
        let web = &v["services"]["web"];
        assert_eq!(
            *web,
            yaml("{image: a, environment: {A: 3, B: '2'}, ports: [\"80\", \"81\"], depends_on: [db], command: [x]}")
        );
        assert!(v["services"]["mid"].get("extends").is_none());
        assert_eq!(v["services"]["base"]["image"], "a");
    }

    #[test]
    fn reset_in_the_extending_service() {
        let v = run(
            "services:\n  base: {image: a, ports: [\"80\"], command: [x]}\n  \
             web:\n    extends: base\n    ports: !reset []\n    command: !override [y]\n",
            Path::new("/p"),
        )
        .unwrap();
        let doc = merge::strip_override_tags(v);
        assert_eq!(doc["services"]["web"], yaml("{image: a, command: [y]}"));
    }

    #[test]
    fn other_file_with_its_own_paths() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(
            sub.join("common.yml"),
            "services:\n  base: {build: ., env_file: base.env, volumes: [./data:/data], image: b}\n  \
             root: {extends: base, labels: [a=1]}\n",
        )
        .unwrap();
        let v = run(
            "services:\n  web: {extends: {file: sub/common.yml, service: root}, image: w}\n  \
             api: {extends: {file: ./sub/common.yml, service: base}}\n",
            dir.path(),
        )
        .unwrap();
        let s = sub.display().to_string();
        assert_eq!(
            v["services"]["web"],
            yaml(&format!(
                "{{build: {s}, env_file: {s}/base.env, volumes: [\"{s}/data:/data\"], image: w, labels: [a=1]}}"
            ))
        );
        assert_eq!(v["services"]["api"]["build"], Value::String(s.clone()));
    }

    #[test]
    fn extends_inside_an_override_tag() {
        let v = run(
            "services:\n  base: {image: a, ports: [\"80\"]}\n  web: !override {extends: base, ports: [\"81\"]}\n",
            Path::new("/p"),
        )
        .unwrap();
        let base = yaml("services: {web: {image: z, user: u}}");
        let doc = merge::merge(base, v, &Positions::default()).unwrap();
        assert_eq!(
            doc["services"]["web"],
            yaml("{image: a, ports: [\"80\", \"81\"]}")
        );
    }

    #[test]
    fn cycles_name_the_chain() {
        let err = run(
            "services:\n  a: {extends: b}\n  b: {extends: c}\n  c: {extends: a}\n",
            Path::new("/p"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cycle"), "{err}");
        assert!(
            err.contains(
                "`a` (this file) extends `b` (this file) extends `c` (this file) extends `a`"
            ),
            "{err}"
        );
        let err = run("services:\n  a: {extends: a}\n", Path::new("/p"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("services.a.extends"), "{err}");
    }

    #[test]
    fn cross_file_cycle() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("other.yml"),
            "services:\n  o: {extends: {file: main.yml, service: m}}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("main.yml"),
            "services:\n  m: {extends: {file: other.yml, service: o}}\n",
        )
        .unwrap();
        let err = run(
            "services:\n  m: {extends: {file: other.yml, service: o}}\n",
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cycle"), "{err}");
    }

    #[test]
    fn missing_service_or_file() {
        let err = run("services:\n  web: {extends: nope}\n", Path::new("/p"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("services.web.extends"), "{err}");
        assert!(err.contains("`nope` is not defined"), "{err}");
        let err = run(
            "services:\n  web: {extends: {file: missing.yml, service: b}}\n",
            Path::new("/nonexistent-dir"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("/nonexistent-dir/missing.yml"), "{err}");
        assert!(err.contains("`web`"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("o.yml"), "services:\n  x: {image: x}\n").unwrap();
        let err = run(
            "services:\n  web: {extends: {file: o.yml, service: y}}\n",
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`y` is not defined in") && err.contains("o.yml"),
            "{err}"
        );
    }

    #[test]
    fn malformed_extends() {
        let err = run(
            "services:\n  web: {extends: {file: x.yml}}\n",
            Path::new("/p"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("extends.service"), "{err}");
        let err = run(
            "services:\n  web: {extends: {service: a, bogus: 1}}\n  a: {}\n",
            Path::new("/p"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("bogus"), "{err}");
        let err = run("services:\n  web: {image: !tag x}\n", Path::new("/p"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("services.web.image") && err.contains("!tag"),
            "{err}"
        );
    }
}
