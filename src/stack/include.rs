//! Top-level `include:`: other stack files (each with its own project directory) merged into
//! this one. OWNER: helper H2 (stub).

use std::path::Path;

use super::{Loader, Result};

pub fn resolve_includes(
    _doc: &mut serde_yaml::Value,
    _file_dir: &Path,
    _project_dir: &Path,
    _loader: &mut Loader<'_>,
) -> Result<()> {
    Ok(())
}
