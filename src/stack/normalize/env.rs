//! `environment` and `env_file`: a map of variables where a name without a value takes its
//! value from the project environment, `env_file` entries below `environment`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{at, Context};
use crate::stack::input::{EnvFile, EnvFileEntry, ListOrDict};
use crate::stack::positions::join_index;
use crate::stack::{dotenv, Result, StackError};

/// One `env_file` entry: its absolute path, its key path and whether it must exist.
struct EnvFileSpec {
    path: PathBuf,
    key_path: String,
    required: bool,
}

fn env_file_specs(env_file: Option<EnvFile>, base: &str, ctx: &Context<'_>) -> Vec<EnvFileSpec> {
    let absolute = |p: &str| {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            ctx.project_dir.join(p)
        }
    };
    match env_file {
        None => Vec::new(),
        Some(EnvFile::One(path)) => vec![EnvFileSpec {
            path: absolute(&path),
            key_path: base.to_string(),
            required: true,
        }],
        Some(EnvFile::List(entries)) => entries
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                let (path, required) = match entry {
                    EnvFileEntry::Path(p) => (p, true),
                    EnvFileEntry::Long(l) => (l.path, l.required.is_none_or(|b| b.0)),
                };
                EnvFileSpec {
                    path: absolute(&path),
                    key_path: join_index(base, i),
                    required,
                }
            })
            .collect(),
    }
}

/// The service environment: `env_file` files in order, then `environment` on top. A variable
/// named without a value takes the project environment's value, or stays `None` (declared in
/// `environment`) / is left out (in an env file) when the environment has none.
pub(super) fn environment(
    service_path: &str,
    env_file: Option<EnvFile>,
    environment: Option<ListOrDict>,
    ctx: &Context<'_>,
) -> Result<BTreeMap<String, Option<String>>> {
    let explicit: Vec<(String, Option<String>)> = environment
        .map(|e| e.entries())
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let v = v.or_else(|| ctx.env.get(&k).map(str::to_string));
            (k, v)
        })
        .collect();
    let env_path = at(service_path, "environment");
    if let Some((_, _)) = explicit.iter().find(|(k, _)| k.is_empty()) {
        return Err(ctx.invalid(
            &env_path,
            "an entry has no variable name; write `NAME=value` or `NAME: value`",
        ));
    }

    let mut vars: BTreeMap<String, Option<String>> = BTreeMap::new();
    for spec in env_file_specs(env_file, &at(service_path, "env_file"), ctx) {
        let text = match std::fs::read_to_string(&spec.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !spec.required => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ctx.invalid(
                    &spec.key_path,
                    format!(
                        "env file {} not found; create it, fix the path, or mark it \
                         `required: false`",
                        spec.path.display()
                    ),
                ))
            }
            Err(source) => {
                return Err(StackError::Read {
                    path: spec.path,
                    source,
                })
            }
        };
        // Interpolation in env files: the project environment first, then the variables of
        // the earlier env files and of `environment`.
        let lookup = |name: &str| -> Option<String> {
            ctx.env
                .get(name)
                .map(str::to_string)
                .or_else(|| vars.get(name).cloned().flatten())
                .or_else(|| {
                    explicit
                        .iter()
                        .rev()
                        .find(|(k, _)| k == name)
                        .and_then(|(_, v)| v.clone())
                })
        };
        let parsed = dotenv::parse(&spec.path.display().to_string(), &text, &lookup)?;
        for (key, value) in parsed {
            match value.or_else(|| ctx.env.get(&key).map(str::to_string)) {
                Some(v) => {
                    vars.insert(key, Some(v));
                }
                None => continue,
            }
        }
    }
    vars.extend(explicit);
    Ok(vars)
}

/// `build.args`: a name without a value takes the project environment's value and is left
/// out when there is none (compose-go drops it).
pub(super) fn build_args(
    args: Option<ListOrDict>,
    ctx: &Context<'_>,
) -> BTreeMap<String, Option<String>> {
    args.map(|a| a.entries())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| {
            let v = v.or_else(|| ctx.env.get(&k).map(str::to_string))?;
            Some((k, Some(v)))
        })
        .collect()
}
