//! The stack file as users write it: typed input structs (short syntaxes included), with
//! `JsonSchema` for `schemas/`. OWNER: helper H3 (stub).

use super::{Positions, Result};

#[derive(Debug, Clone, Default)]
pub struct StackFile {}

impl StackFile {
    /// Types the merged tree; unknown keys and wrong types name their key path and location.
    pub fn from_tree(_tree: serde_yaml::Value, _positions: &Positions) -> Result<StackFile> {
        Ok(StackFile {})
    }
}
