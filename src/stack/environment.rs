//! The environment used for interpolation: the project's `.env` (or `--env-file`s), overridden
//! by the process environment. OWNER: helper H1 (stub).

use std::collections::BTreeMap;
use std::path::Path;

use super::{LoadOptions, Result};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    pub fn from_map(vars: BTreeMap<String, String>) -> Self {
        Environment { vars }
    }

    /// `.env` in `project_dir` (or `opts.env_files` instead), then `opts.process_env` on top.
    pub fn load(opts: &LoadOptions, _project_dir: &Path) -> Result<Self> {
        Ok(Environment {
            vars: opts.process_env.clone(),
        })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }
}
