//! Errors of the stack-file front end. Every error a user can cause says what was wrong, where
//! (file:line:col when known, and always the key path), and what to do.

use std::fmt;
use std::path::PathBuf;

/// A position in a source file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Where in the stack something is: a key path (`services.web.ports[0]`) and, when the key
/// can be traced back to a file, its location.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Place {
    pub path: String,
    pub location: Option<Location>,
}

impl Place {
    pub fn path(path: impl Into<String>) -> Self {
        Place {
            path: path.into(),
            location: None,
        }
    }

    pub fn at(path: impl Into<String>, location: Option<Location>) -> Self {
        Place {
            path: path.into(),
            location,
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A key may hold any character: control characters are shown escaped, so a message
        // stays one line and cannot write to the terminal.
        let path: String = self
            .path
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_debug().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect();
        match (&self.location, path.is_empty()) {
            (Some(loc), false) => write!(f, "{loc}: {path}"),
            (Some(loc), true) => write!(f, "{loc}"),
            (None, false) => write!(f, "{path}"),
            (None, true) => write!(f, "(top level)"),
        }
    }
}

/// Errors of loading a stack: discovery, parsing, interpolation, merging, validation.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(
        "no stack file found in {dir} or its parents (looked for compose.yaml, compose.yml, \
         docker-compose.yaml, docker-compose.yml); pass one with -f"
    )]
    NoStackFile { dir: PathBuf },

    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{file}: invalid YAML: {message}")]
    Yaml { file: String, message: String },

    #[error(
        "{file}: the document expands to too many nodes through aliases (an alias bomb?); \
         refusing to load it"
    )]
    AliasBomb { file: String },

    #[error("{file}: the top level must be a mapping of keys such as `services:`")]
    NotAMapping { file: String },

    #[error("{at}: invalid interpolation of `{variable}`: {message}")]
    Interpolation {
        at: Place,
        variable: String,
        message: String,
    },

    #[error("{at}: required variable `{variable}` is missing a value: {message}")]
    RequiredVariable {
        at: Place,
        variable: String,
        message: String,
    },

    #[error("{file}:{line}: invalid line in env file: {message}")]
    EnvFile {
        file: String,
        line: usize,
        message: String,
    },

    #[error("{at}: unknown key `{key}`; {}", unknown_key_hint(suggestion.as_deref()))]
    UnknownKey {
        at: Place,
        key: String,
        /// A known key spelled closely enough to be what was meant.
        suggestion: Option<String>,
    },

    #[error("{at}: {message}")]
    WrongType { at: Place, message: String },

    #[error("{at}: {message}")]
    Invalid { at: Place, message: String },

    #[error("{at}: `{key}` is not supported by berth yet: {message}")]
    Unsupported {
        at: Place,
        key: String,
        message: String,
    },

    #[error("{at}: {message}")]
    Undefined { at: Place, message: String },

    #[error("invalid project name {name:?}: {message}")]
    ProjectName { name: String, message: String },

    #[error("{at}: cannot extend service `{service}`: {message}")]
    Extends {
        at: Place,
        service: String,
        message: String,
    },

    #[error("{at}: cannot include {path}: {message}")]
    Include {
        at: Place,
        path: String,
        message: String,
    },

    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
}

fn unknown_key_hint(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None => "check its spelling against the Compose Specification".to_string(),
    }
}

pub type Result<T, E = StackError> = std::result::Result<T, E>;
