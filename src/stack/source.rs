//! Parsing one stack file into a YAML tree (anchors, aliases, `<<` merge keys applied; alias
//! bombs refused) with its position index.
//!
//! `!reset` and `!override` tags stay in the tree as `Value::Tagged` for the merge stage.

use serde_yaml::{Mapping, Value};

use super::positions::{self, join_key, key_text, PositionIndex};
use super::{Result, StackError};

/// Most nodes a file may expand to through its aliases (a billion-laughs guard).
pub const MAX_EXPANDED_NODES: u64 = 1_000_000;

#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub value: Value,
    pub positions: PositionIndex,
}

impl SourceFile {
    /// Parses `text`, named `name` in messages. An empty document is an empty mapping.
    pub fn parse(name: &str, text: &str) -> Result<SourceFile> {
        let scan = positions::scan(name, text, MAX_EXPANDED_NODES);
        if scan.expanded_nodes.is_some_and(|n| n > MAX_EXPANDED_NODES) {
            return Err(StackError::AliasBomb {
                file: name.to_string(),
            });
        }
        let value: Value = match scan.value {
            Some(value) => value,
            None => serde_yaml::from_str(text).map_err(|e| yaml_error(name, text, &e))?,
        };
        let mut value = match value {
            Value::Null => Value::Mapping(Mapping::new()),
            Value::Mapping(_) => value,
            _ => {
                return Err(StackError::NotAMapping {
                    file: name.to_string(),
                })
            }
        };
        apply_merge_keys(&mut value, "", &scan.index)?;
        Ok(SourceFile {
            name: name.to_string(),
            value,
            positions: scan.index,
        })
    }
}

/// Turns a YAML loader error into a [`StackError`] that says where and what to do.
fn yaml_error(name: &str, text: &str, e: &serde_yaml::Error) -> StackError {
    let message = e.to_string();
    if message.contains("repetition limit exceeded") {
        return StackError::AliasBomb {
            file: name.to_string(),
        };
    }
    if message.contains("more than one document") {
        let line = second_document_line(text)
            .map(|l| format!(" (the second starts at line {l})"))
            .unwrap_or_default();
        return StackError::Yaml {
            file: name.to_string(),
            message: format!(
                "the file holds several YAML documents separated by `---`{line}; a stack file \
                 holds one: split it into several files and pass each with -f"
            ),
        };
    }
    let (location, message) = match e.location() {
        Some(l) => (
            format!("{}:{}: ", l.line(), l.column()),
            // The position leads the message; drop its repetition inside it.
            message.replacen(
                &format!(" at line {} column {}", l.line(), l.column()),
                "",
                1,
            ),
        ),
        None => (String::new(), message),
    };
    let hint = if message.contains("duplicate entry") {
        "; each key may appear only once in a mapping: remove or rename one of them"
    } else {
        ""
    };
    StackError::Yaml {
        file: name.to_string(),
        message: format!("{location}{message}{hint}"),
    }
}

/// The line of the second document's `---` marker, if the text has one.
fn second_document_line(text: &str) -> Option<usize> {
    let mut content_seen = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            if content_seen {
                return Some(i + 1);
            }
            content_seen = true;
        } else if !trimmed.is_empty() && !trimmed.starts_with('#') && !trimmed.starts_with('%') {
            content_seen = true;
        }
    }
    None
}

/// Applies YAML merge keys (`<<: *base`, `<<: [*a, *b]`) everywhere in the tree, innermost
/// first, so that a merged mapping's own merge keys are resolved before it is merged. Keys
/// written in a mapping win over merged ones; among several merged mappings the first wins.
pub fn apply_merge_keys(value: &mut Value, path: &str, index: &PositionIndex) -> Result<()> {
    merge_keys_at(value, &|| path.to_string(), index)
}

/// [`apply_merge_keys`] with the key path built only when an error needs it.
fn merge_keys_at(
    value: &mut Value,
    path: &dyn Fn() -> String,
    index: &PositionIndex,
) -> Result<()> {
    match value {
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                if !matches!(v, Value::Mapping(_) | Value::Sequence(_) | Value::Tagged(_)) {
                    continue;
                }
                let child = || match k {
                    Value::String(s) if s == "<<" => path(),
                    Value::String(s) => join_key(&path(), s),
                    other => join_key(&path(), &key_text(other)),
                };
                merge_keys_at(v, &child, index)?;
            }
            let Some(merged) = map.remove("<<") else {
                return Ok(());
            };
            let sources = match merged {
                Value::Mapping(m) => vec![m],
                Value::Sequence(items) => {
                    let mut sources = Vec::with_capacity(items.len());
                    for (i, item) in items.into_iter().enumerate() {
                        match item {
                            Value::Mapping(m) => sources.push(m),
                            other => {
                                return Err(merge_error(
                                    &path(),
                                    index,
                                    &format!(
                                        "item {i} of the `<<` list is {}, not a mapping",
                                        describe(&other)
                                    ),
                                ))
                            }
                        }
                    }
                    sources
                }
                other => {
                    return Err(merge_error(
                        &path(),
                        index,
                        &format!(
                            "`<<` takes a mapping or a list of mappings (usually aliases like \
                             `<<: *base`), not {}",
                            describe(&other)
                        ),
                    ))
                }
            };
            for source in sources {
                for (k, v) in source {
                    if !map.contains_key(&k) {
                        map.insert(k, v);
                    }
                }
            }
            Ok(())
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                merge_keys_at(item, &|| format!("{}[{i}]", path()), index)?;
            }
            Ok(())
        }
        Value::Tagged(tagged) => merge_keys_at(&mut tagged.value, path, index),
        _ => Ok(()),
    }
}

fn merge_error(path: &str, index: &PositionIndex, message: &str) -> StackError {
    StackError::Invalid {
        at: index.place(&join_key(path, "<<")),
        message: message.to_string(),
    }
}

/// "a string", "a list", ... for messages.
pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests;
