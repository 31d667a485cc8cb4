//! Service `extends:` (same file and other files). OWNER: helper H2 (stub).

use std::path::Path;

use super::{Loader, Result};

pub fn resolve_extends(
    _doc: &mut serde_yaml::Value,
    _file_dir: &Path,
    _loader: &mut Loader<'_>,
) -> Result<()> {
    Ok(())
}
