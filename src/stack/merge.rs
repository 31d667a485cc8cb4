//! Merging stack files with Compose's rules, and the `!reset` / `!override` tags.
//! OWNER: helper H2 (stub).

use super::{Positions, Result};

/// Merges `overlay` onto `base` (both whole documents).
pub fn merge(
    _base: serde_yaml::Value,
    overlay: serde_yaml::Value,
    _positions: &Positions,
) -> Result<serde_yaml::Value> {
    Ok(overlay)
}

/// A single (first) file: `!reset`/`!override` tags have nothing to act on; drop them.
pub fn strip_override_tags(doc: serde_yaml::Value) -> serde_yaml::Value {
    doc
}
