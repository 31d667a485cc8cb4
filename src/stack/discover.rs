//! Finding the stack files: `-f` (repeatable, `-` for stdin), COMPOSE_FILE, or the standard
//! names in the working directory and its parents, plus their override file.
//! OWNER: helper H1 (stub).

use std::fmt;
use std::path::PathBuf;

use super::{LoadOptions, Result, StackError};

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

pub fn discover(opts: &LoadOptions) -> Result<Discovered> {
    Err(StackError::NoStackFile {
        dir: opts.working_dir.clone(),
    })
}
