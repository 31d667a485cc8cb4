//! Parsing one stack file into a YAML tree (anchors, aliases, `<<` merge keys applied; alias
//! bombs refused) with its position index. OWNER: helper H1 (stub).

use super::positions::PositionIndex;
use super::{Result, StackError};

#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub value: serde_yaml::Value,
    pub positions: PositionIndex,
}

impl SourceFile {
    pub fn parse(name: &str, text: &str) -> Result<SourceFile> {
        let value: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| StackError::Yaml {
                file: name.to_string(),
                message: e.to_string(),
            })?;
        Ok(SourceFile {
            name: name.to_string(),
            value,
            positions: PositionIndex::build(name, text),
        })
    }
}
