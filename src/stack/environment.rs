//! The environment used for interpolation: the project's `.env` (or `--env-file`s), overridden
//! by the process environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{dotenv, LoadOptions, Result, StackError};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    pub fn from_map(vars: BTreeMap<String, String>) -> Self {
        Environment { vars }
    }

    /// `opts.env_files` (each must exist; relative to the working directory) or else
    /// `<project_dir>/.env` when it is a file, then `opts.process_env` on top. Each env file
    /// sees the variables of the files before it (and the process environment) when it
    /// interpolates.
    pub fn load(opts: &LoadOptions, project_dir: &Path) -> Result<Self> {
        let files: Vec<PathBuf> = if opts.env_files.is_empty() {
            let default = project_dir.join(".env");
            if default.is_file() {
                vec![default]
            } else {
                Vec::new()
            }
        } else {
            opts.env_files
                .iter()
                .map(|f| opts.working_dir.join(f))
                .collect()
        };
        let from_files = read_env_files(&files, &opts.process_env)?;
        let mut vars = from_files;
        vars.extend(opts.process_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(Environment { vars })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }
}

/// Reads env files in order into one map (later files win). While a file is parsed, `${VAR}`
/// resolves against the earlier files' variables, then `process_env`, then the file's own
/// earlier lines; `KEY` alone takes its value from there when it has one.
pub fn read_env_files(
    files: &[PathBuf],
    process_env: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    for file in files {
        if file.is_dir() {
            return Err(StackError::Read {
                path: file.clone(),
                source: std::io::Error::other(
                    "it is a directory; --env-file takes a file of KEY=value lines",
                ),
            });
        }
        let text = std::fs::read_to_string(file).map_err(|source| StackError::Read {
            path: file.clone(),
            source,
        })?;
        let lookup = |name: &str| vars.get(name).or_else(|| process_env.get(name)).cloned();
        let pairs = dotenv::parse(&file.display().to_string(), &text, &lookup)?;
        let mut parsed = BTreeMap::new();
        for (key, value) in pairs {
            match value {
                Some(v) => {
                    parsed.insert(key, v);
                }
                None => {
                    if let Some(v) = lookup(&key) {
                        parsed.insert(key, v);
                    }
                }
            }
        }
        vars.extend(parsed);
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn opts(dir: &Path, process: &[(&str, &str)]) -> LoadOptions {
        LoadOptions {
            interpolate: true,
            working_dir: dir.to_path_buf(),
            process_env: process
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn reads_dot_env_and_process_env_wins() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(".env"),
            "A=from-file\nB=from-file\nC=${B}-x\n",
        )
        .unwrap();
        let env = Environment::load(&opts(dir.path(), &[("B", "proc")]), dir.path()).unwrap();
        assert_eq!(env.get("A"), Some("from-file"));
        assert_eq!(env.get("B"), Some("proc"));
        // As in Compose, interpolation inside .env sees the process value.
        assert_eq!(env.get("C"), Some("proc-x"));
    }

    #[test]
    fn missing_dot_env_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let env = Environment::load(&opts(dir.path(), &[("P", "1")]), dir.path()).unwrap();
        assert_eq!(env.vars().len(), 1);
        assert_eq!(env.get("P"), Some("1"));
    }

    #[test]
    fn a_dot_env_directory_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(".env")).unwrap();
        let env = Environment::load(&opts(dir.path(), &[]), dir.path()).unwrap();
        assert!(env.vars().is_empty());
    }

    #[test]
    fn env_files_replace_dot_env_and_chain() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".env"), "IGNORED=1\n").unwrap();
        fs::write(dir.path().join("a.env"), "A=1\nSHARED=a\n").unwrap();
        fs::write(dir.path().join("b.env"), "B=${A}2\nSHARED=b\nA\n").unwrap();
        let mut o = opts(dir.path(), &[]);
        o.env_files = vec!["a.env".into(), dir.path().join("b.env")];
        let env = Environment::load(&o, dir.path()).unwrap();
        assert_eq!(env.get("IGNORED"), None);
        assert_eq!(env.get("A"), Some("1"));
        assert_eq!(env.get("B"), Some("12"));
        assert_eq!(env.get("SHARED"), Some("b"));
    }

    #[test]
    fn a_missing_env_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts(dir.path(), &[]);
        o.env_files = vec!["nope.env".into()];
        let err = Environment::load(&o, dir.path()).unwrap_err();
        assert!(matches!(err, StackError::Read { .. }), "{err}");
        assert!(err.to_string().contains("nope.env"), "{err}");
    }

    #[test]
    fn env_file_syntax_errors_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".env"), "OK=1\nBAD KEY=2\n").unwrap();
        let err = Environment::load(&opts(dir.path(), &[]), dir.path()).unwrap_err();
        assert!(err.to_string().contains(".env:2:"), "{err}");
    }
}
