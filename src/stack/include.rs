//! Top-level `include:`: other stack files (each with its own project directory) merged into
//! this one. OWNER: helper H2.
//!
//! As in compose-go (`loader/include.go`): each entry is a path, or `{path, project_directory,
//! env_file}` where `path` may list override files merged onto the first. Paths are relative to
//! the including project's directory. An included project is loaded on its own: its own
//! includes and extends, interpolation with its `env_file`s (default: `.env` in its project
//! directory) under the includer's environment, and relative paths resolved against its project
//! directory. Its resources are then copied in; one the includer (or another include) defines
//! differently is an error.

use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::merge::{self, KeyPath};
use super::{dotenv, extends, paths, Environment, Loader, Place, Result, StackError};

/// Resolves the `include` section of `doc` (one stack file named on the command line) and
/// removes it. Also makes the file's relative `extends.file` values absolute: like every path in
/// a command-line stack file, they are relative to the project directory.
pub fn resolve_includes(
    doc: &mut Value,
    _file_dir: &Path,
    project_dir: &Path,
    loader: &mut Loader<'_>,
) -> Result<()> {
    paths::resolve_extends_files(doc, project_dir, loader.env);
    include_into(doc, project_dir, loader, &mut Vec::new())
}

/// One `include` entry, paths absolute.
struct Spec {
    paths: Vec<PathBuf>,
    project_dir: PathBuf,
    env_files: Vec<PathBuf>,
    /// `include[i]`, for messages.
    at: String,
}

impl Spec {
    fn label(&self) -> String {
        let names: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
        names.join(", ")
    }
}

fn include_error(loader: &Loader<'_>, at: &str, path: &str, message: String) -> StackError {
    StackError::Include {
        at: loader.positions.place(at),
        path: path.to_string(),
        message,
    }
}

/// Resolves `doc`'s includes; `working_dir` is the directory its relative paths start from;
/// `chain` the files being included, outermost first (cycle detection).
fn include_into(
    doc: &mut Value,
    working_dir: &Path,
    loader: &mut Loader<'_>,
    chain: &mut Vec<PathBuf>,
) -> Result<()> {
    let Some(top) = doc.as_mapping_mut() else {
        return Ok(());
    };
    let entries = match top.shift_remove("include") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Sequence(entries)) => entries,
        Some(_) => {
            return Err(StackError::WrongType {
                at: loader.positions.place("include"),
                message: "`include` must be a list of paths or of `{path, project_directory, \
                          env_file}` mappings"
                    .into(),
            })
        }
    };
    for (i, entry) in entries.into_iter().enumerate() {
        let spec = parse_entry(&entry, i, working_dir, loader)?;
        let main = &spec.paths[0];
        if chain.contains(main) {
            let mut names: Vec<String> = chain.iter().map(|p| p.display().to_string()).collect();
            names.push(main.display().to_string());
            return Err(include_error(
                loader,
                &spec.at,
                &spec.label(),
                format!(
                    "include cycle: {}; remove one of these includes",
                    names.join(" includes ")
                ),
            ));
        }
        for p in &spec.paths {
            if !p.is_file() {
                return Err(include_error(
                    loader,
                    &spec.at,
                    &p.display().to_string(),
                    "the file does not exist; fix the path (relative paths start from the \
                     project directory)"
                        .into(),
                ));
            }
        }
        let env = include_env(&spec, loader)?;
        let mut sub = Loader {
            env: &env,
            interpolate: loader.interpolate,
            positions: std::mem::take(&mut loader.positions),
        };
        chain.push(main.clone());
        let imported = load_project(&spec, &mut sub, chain);
        chain.pop();
        loader.positions = sub.positions;
        import_resources(top, imported?, &spec, loader)?;
    }
    Ok(())
}

/// Loads an included project: its files merged, includes and extends resolved, relative paths
/// made absolute against its project directory.
fn load_project(spec: &Spec, sub: &mut Loader<'_>, chain: &mut Vec<PathBuf>) -> Result<Value> {
    let mut merged: Option<Value> = None;
    for p in &spec.paths {
        let mut doc = sub.load_path(p)?;
        paths::resolve_extends_files(&mut doc, &spec.project_dir, sub.env);
        include_into(&mut doc, &spec.project_dir, sub, chain)?;
        extends::resolve_extends(&mut doc, &spec.project_dir, sub)?;
        merged = Some(match merged {
            None => merge::strip_override_tags(doc),
            Some(base) => merge::merge(base, doc, &sub.positions)?,
        });
    }
    let mut tree = merged.unwrap_or(Value::Null);
    paths::resolve_relative_paths(&mut tree, &spec.project_dir, sub.env);
    Ok(tree)
}

fn parse_entry(entry: &Value, i: usize, working_dir: &Path, loader: &Loader<'_>) -> Result<Spec> {
    let at = KeyPath::root().key("include").index(i);
    let home = loader.env.get("HOME");
    let abs = |s: &str| PathBuf::from(paths::absolutize(s, working_dir, home));
    let strings = |v: &Value, key: &str| -> Result<Vec<String>> {
        let bad = || StackError::WrongType {
            at: loader.positions.place(&at.key(key).to_string()),
            message: format!("`{key}` must be a path or a list of paths"),
        };
        match v {
            Value::String(s) => Ok(vec![s.clone()]),
            Value::Sequence(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string).ok_or_else(bad))
                .collect(),
            _ => Err(bad()),
        }
    };
    let (path, project_dir, env_files) = match entry {
        Value::String(s) => (vec![s.clone()], None, Vec::new()),
        Value::Mapping(m) => {
            if let Some(k) = m
                .keys()
                .find(|k| !matches!(k.as_str(), Some("path" | "project_directory" | "env_file")))
            {
                let key = merge::key_string(k);
                let known = ["path", "project_directory", "env_file"].map(String::from);
                return Err(StackError::UnknownKey {
                    at: loader.positions.place(&at.key(&key).to_string()),
                    suggestion: crate::stack::input::closest(&key, &known),
                    key,
                });
            }
            let path = match m.get("path") {
                Some(v) => strings(v, "path")?,
                None => Vec::new(),
            };
            let project_dir = match m.get("project_directory") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => {
                    return Err(StackError::WrongType {
                        at: loader
                            .positions
                            .place(&at.key("project_directory").to_string()),
                        message: "`project_directory` must be a path".into(),
                    })
                }
            };
            let env_files = match m.get("env_file") {
                None | Some(Value::Null) => Vec::new(),
                Some(v) => strings(v, "env_file")?,
            };
            (path, project_dir, env_files)
        }
        _ => {
            return Err(StackError::WrongType {
                at: loader.positions.place(&at.to_string()),
                message: "an `include` entry must be a path or a mapping with `path`".into(),
            })
        }
    };
    if path.is_empty() {
        return Err(StackError::Invalid {
            at: loader.positions.place(&at.to_string()),
            message: "the include has no `path`; name the stack file to include".into(),
        });
    }
    let paths: Vec<PathBuf> = path.iter().map(|p| abs(p)).collect();
    let project_dir = match project_dir {
        Some(d) => abs(&d),
        None => paths[0].parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    Ok(Spec {
        paths,
        project_dir,
        env_files: env_files.iter().map(|f| abs(f)).collect(),
        at: at.to_string(),
    })
}

/// The environment an included project is interpolated with: the includer's, plus the
/// variables of its env files (`.env` in its project directory by default) that the includer's
/// environment does not define.
fn include_env(spec: &Spec, loader: &Loader<'_>) -> Result<Environment> {
    let mut vars = loader.env.vars().clone();
    let files = if spec.env_files.is_empty() {
        let dot_env = spec.project_dir.join(".env");
        if dot_env.is_file() {
            vec![dot_env]
        } else {
            Vec::new()
        }
    } else {
        spec.env_files.clone()
    };
    for file in files {
        if file == Path::new("/dev/null") {
            continue;
        }
        let name = file.display().to_string();
        let text = std::fs::read_to_string(&file).map_err(|e| {
            include_error(
                loader,
                &spec.at,
                &spec.label(),
                format!("cannot read its env_file {name}: {e}"),
            )
        })?;
        let lookup = |k: &str| vars.get(k).cloned();
        let parsed = dotenv::parse(&name, &text, &lookup)?;
        for (k, v) in parsed {
            if let Some(v) = v {
                vars.entry(k).or_insert(v);
            }
        }
    }
    Ok(Environment::from_map(vars))
}

/// Copies the included project's resources into `top`; the same name defined differently on
/// both sides is an error.
fn import_resources(
    top: &mut Mapping,
    imported: Value,
    spec: &Spec,
    loader: &Loader<'_>,
) -> Result<()> {
    let Value::Mapping(mut imported) = imported else {
        return Ok(());
    };
    for (kind, noun) in [
        ("services", "service"),
        ("volumes", "volume"),
        ("networks", "network"),
        ("secrets", "secret"),
        ("configs", "config"),
    ] {
        let Some(Value::Mapping(from)) = imported.shift_remove(kind) else {
            continue;
        };
        let to = top
            .entry(kind.into())
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        let to = paths::untag_mut(to);
        if to.is_null() {
            *to = Value::Mapping(Mapping::new());
        }
        let Some(to) = to.as_mapping_mut() else {
            continue;
        };
        for (name, def) in from {
            match to.get(&name) {
                None => {
                    to.insert(name, def);
                }
                Some(existing) if *existing == def => {}
                Some(_) => {
                    let name = merge::key_string(&name);
                    let path = KeyPath::root().key(kind).key(&name).to_string();
                    return Err(StackError::Include {
                        at: Place::at(path.clone(), loader.positions.locate(&path)),
                        path: spec.label(),
                        message: format!(
                            "imported resource conflicts: it defines {noun} `{name}`, which \
                             this file (or another include) defines too; rename one of them, \
                             or customize the included one with an override file listed in \
                             the include's `path`"
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
