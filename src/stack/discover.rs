//! Finding the stack files: `-f` (repeatable, `-` for stdin), COMPOSE_FILE, or the standard
//! names in the working directory and its parents, plus their override file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::environment::read_env_files;
use super::{LoadOptions, Result, StackError};

/// The names looked for, in Compose's order of preference.
pub const DEFAULT_FILE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// The override files loaded after the one found, in Compose's order of preference.
pub const DEFAULT_OVERRIDE_FILE_NAMES: [&str; 4] = [
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

/// One stack file to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSpec {
    Path(PathBuf),
    Stdin,
}

impl fmt::Display for FileSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileSpec::Path(p) => write!(f, "{}", p.display()),
            FileSpec::Stdin => f.write_str("-"),
        }
    }
}

/// The files to merge, in order, and the project directory.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub files: Vec<FileSpec>,
    pub project_dir: PathBuf,
}

/// `-f` files, else COMPOSE_FILE (process environment, else the `.env` of the working
/// directory), else the standard names searched upwards from the working directory.
pub fn discover(opts: &LoadOptions) -> Result<Discovered> {
    let files = if !opts.files.is_empty() {
        explicit_files(&opts.files, opts)?
    } else if let Some(list) = compose_file_variable(opts)? {
        list
    } else {
        search(&opts.working_dir)?
    };
    let project_dir = match &opts.project_directory {
        Some(dir) => absolute(&opts.working_dir, dir),
        None => files
            .iter()
            .find_map(|f| match f {
                FileSpec::Path(p) => p.parent().map(Path::to_path_buf),
                FileSpec::Stdin => None,
            })
            .unwrap_or_else(|| opts.working_dir.clone()),
    };
    Ok(Discovered { files, project_dir })
}

fn explicit_files(names: &[String], opts: &LoadOptions) -> Result<Vec<FileSpec>> {
    names
        .iter()
        .map(|name| {
            if name == "-" {
                return Ok(FileSpec::Stdin);
            }
            let path = absolute(&opts.working_dir, Path::new(name));
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_dir() => Err(StackError::Read {
                    path,
                    source: std::io::Error::other(
                        "it is a directory; -f takes a stack file such as compose.yaml",
                    ),
                }),
                Ok(_) => Ok(FileSpec::Path(path)),
                Err(source) => Err(StackError::Read { path, source }),
            }
        })
        .collect()
}

/// COMPOSE_FILE, split by COMPOSE_PATH_SEPARATOR (default `:`); read from the process
/// environment, else from the env files (`--env-file`, else `.env` in the project directory
/// or the working directory).
fn compose_file_variable(opts: &LoadOptions) -> Result<Option<Vec<FileSpec>>> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    if !opts.process_env.contains_key("COMPOSE_FILE") {
        let base = opts
            .project_directory
            .as_ref()
            .map(|d| absolute(&opts.working_dir, d))
            .unwrap_or_else(|| opts.working_dir.clone());
        let files: Vec<PathBuf> = if opts.env_files.is_empty() {
            let dot_env = base.join(".env");
            if dot_env.is_file() {
                vec![dot_env]
            } else {
                Vec::new()
            }
        } else {
            opts.env_files
                .iter()
                .map(|f| opts.working_dir.join(f))
                .collect()
        };
        env = read_env_files(&files, &opts.process_env)?;
    }
    env.extend(opts.process_env.clone());
    let Some(value) = env.get("COMPOSE_FILE").filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let separator = env
        .get("COMPOSE_PATH_SEPARATOR")
        .filter(|s| !s.is_empty())
        .map_or(":", String::as_str);
    let names: Vec<String> = value
        .split(separator)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return Ok(None);
    }
    explicit_files(&names, opts).map(Some)
}

/// The first standard name in `start` or the nearest parent that has one, plus the override
/// file next to it.
fn search(start: &Path) -> Result<Vec<FileSpec>> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        if let Some(main) = first_file(d, &DEFAULT_FILE_NAMES) {
            let mut files = vec![FileSpec::Path(main)];
            if let Some(over) = first_file(d, &DEFAULT_OVERRIDE_FILE_NAMES) {
                files.push(FileSpec::Path(over));
            }
            return Ok(files);
        }
        dir = d.parent();
    }
    Err(StackError::NoStackFile {
        dir: start.to_path_buf(),
    })
}

fn first_file(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    let found: Vec<PathBuf> = names
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect();
    if found.len() > 1 {
        let list: Vec<String> = found.iter().map(|p| p.display().to_string()).collect();
        tracing::warn!(
            "found several stack files with supported names: {}; using {}",
            list.join(", "),
            list[0]
        );
    }
    found.into_iter().next()
}

/// `path` made absolute against `base`, with `.` components dropped.
fn absolute(base: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    joined
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

#[cfg(test)]
mod tests;
