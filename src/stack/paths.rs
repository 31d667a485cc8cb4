//! Making relative paths absolute (build contexts, env_file, bind sources, secret/config files,
//! extends files), against a base directory; `~` expands to HOME. OWNER: helper H2 (stub).

use std::path::Path;

use super::Environment;

pub fn resolve_relative_paths(_tree: &mut serde_yaml::Value, _base: &Path, _env: &Environment) {}
