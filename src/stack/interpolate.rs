//! `$VAR`, `${VAR}`, `${VAR:-default}` ... interpolation over a YAML tree. OWNER: helper H1 (stub).

use super::positions::PositionIndex;
use super::{Environment, Result};

/// Interpolates every string scalar (mapping values and sequence items) of `value` in place.
pub fn interpolate_tree(
    _value: &mut serde_yaml::Value,
    _env: &Environment,
    _positions: &PositionIndex,
) -> Result<()> {
    Ok(())
}
