//! The project name: `-p`, COMPOSE_PROJECT_NAME, top-level `name:`, else the directory name.
//! OWNER: helper H1 (stub).

use std::path::Path;

use super::{Environment, Result};

pub fn resolve(
    explicit: Option<&str>,
    _env: &Environment,
    top_level: Option<&str>,
    project_dir: &Path,
) -> Result<String> {
    Ok(explicit
        .or(top_level)
        .map(str::to_string)
        .unwrap_or_else(|| {
            project_dir
                .file_name()
                .map(|s| s.to_string_lossy().to_lowercase())
                .unwrap_or_default()
        }))
}
