//! Builds the YAML tree from the same `saphyr-parser` events that the position index reads, so
//! a stack file is parsed once.
//!
//! Scalars resolve as `yaml_serde` resolves them (YAML 1.2 core schema: `null`/`~`/empty, the
//! three spellings of `true`/`false`, decimal/`0x`/`0o`/`0b` integers, floats with `.inf`/`.nan`,
//! leading-zero digit strings stay strings), and local tags such as `!reset` become
//! `Value::Tagged`. Whatever this builder does not handle exactly as `yaml_serde` does (other
//! tags, complex or duplicate keys, a second document, deep nesting, 128-bit integers) makes it
//! give up; the caller then parses the text with `yaml_serde`, which yields the same tree or the
//! error message users get.

use std::collections::HashMap;

use saphyr_parser::{Event, ScalarStyle, Tag};
use serde_yaml::value::{Tag as YamlTag, TaggedValue};
use serde_yaml::{Mapping, Number, Value};

/// Nesting beyond this is left to `yaml_serde`, which refuses it (its recursion limit).
const MAX_DEPTH: usize = 128;

enum Open {
    Mapping {
        map: Mapping,
        key: Option<Value>,
        tag: Option<String>,
        anchor: usize,
    },
    Sequence {
        seq: Vec<Value>,
        tag: Option<String>,
        anchor: usize,
    },
}

/// Consumes events one at a time; `None` from [`TreeBuilder::finish`] means "parse it again
/// with `yaml_serde`".
#[derive(Default)]
pub struct TreeBuilder {
    open: Vec<Open>,
    anchors: HashMap<usize, Value>,
    root: Option<Value>,
    documents: usize,
    gave_up: bool,
}

/// Why the builder stopped: the slow path must decide.
struct GiveUp;

impl TreeBuilder {
    /// Feeds one event; returns `false` once the builder has given up.
    pub fn event(&mut self, event: &Event<'_>) -> bool {
        if self.gave_up {
            return false;
        }
        if self.try_event(event).is_err() {
            self.gave_up = true;
            self.open.clear();
            self.anchors.clear();
            self.root = None;
        }
        !self.gave_up
    }

    /// The document's tree (`Null` for an empty document), or `None` when the builder gave up.
    pub fn finish(self) -> Option<Value> {
        if self.gave_up || !self.open.is_empty() {
            return None;
        }
        Some(self.root.unwrap_or(Value::Null))
    }

    fn try_event(&mut self, event: &Event<'_>) -> Result<(), GiveUp> {
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(GiveUp);
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar(text, *style, tag.as_deref())?;
                self.complete(value, *anchor)?;
            }
            Event::Alias(id) => {
                let value = self.anchors.get(id).cloned().ok_or(GiveUp)?;
                self.complete(value, 0)?;
            }
            Event::MappingStart(anchor, tag) => {
                let tag = container_tag(tag.as_deref())?;
                self.push(Open::Mapping {
                    map: Mapping::new(),
                    key: None,
                    tag,
                    anchor: *anchor,
                })?;
            }
            Event::SequenceStart(anchor, tag) => {
                let tag = container_tag(tag.as_deref())?;
                self.push(Open::Sequence {
                    seq: Vec::new(),
                    tag,
                    anchor: *anchor,
                })?;
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let (value, tag, anchor) = match self.open.pop().ok_or(GiveUp)? {
                    Open::Mapping {
                        map,
                        key: None,
                        tag,
                        anchor,
                    } => (Value::Mapping(map), tag, anchor),
                    Open::Mapping { key: Some(_), .. } => return Err(GiveUp),
                    Open::Sequence { seq, tag, anchor } => (Value::Sequence(seq), tag, anchor),
                };
                self.complete(with_tag(value, tag), anchor)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn push(&mut self, open: Open) -> Result<(), GiveUp> {
        if self.open.len() >= MAX_DEPTH {
            return Err(GiveUp);
        }
        self.open.push(open);
        Ok(())
    }

    /// Places a finished node into its parent (or as the root), remembering it for aliases.
    fn complete(&mut self, value: Value, anchor: usize) -> Result<(), GiveUp> {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.open.last_mut() {
            None => {
                if self.root.is_some() {
                    return Err(GiveUp);
                }
                self.root = Some(value);
            }
            Some(Open::Sequence { seq, .. }) => seq.push(value),
            Some(Open::Mapping { map, key, .. }) => match key.take() {
                None => {
                    if matches!(value, Value::Mapping(_) | Value::Sequence(_)) {
                        return Err(GiveUp);
                    }
                    *key = Some(value);
                }
                Some(k) => {
                    if map.contains_key(&k) {
                        return Err(GiveUp);
                    }
                    map.insert(k, value);
                }
            },
        }
        Ok(())
    }
}

/// The tag a container keeps: a local tag (`!reset`) or none; anything else gives up.
fn container_tag(tag: Option<&Tag>) -> Result<Option<String>, GiveUp> {
    match tag {
        None => Ok(None),
        Some(t) if is_local(t) => Ok(Some(t.suffix.clone())),
        Some(_) => Err(GiveUp),
    }
}

fn is_local(tag: &Tag) -> bool {
    tag.handle == "!" && !tag.suffix.is_empty()
}

fn with_tag(value: Value, tag: Option<String>) -> Value {
    match tag {
        None => value,
        Some(tag) => Value::Tagged(Box::new(TaggedValue {
            tag: YamlTag::new(tag),
            value,
        })),
    }
}

fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, GiveUp> {
    let plain = style == ScalarStyle::Plain;
    match tag {
        None if plain => resolve_plain(text),
        None => Ok(Value::String(text.to_string())),
        Some(t) if is_local(t) => {
            let inner = if plain {
                resolve_plain(text)?
            } else {
                Value::String(text.to_string())
            };
            Ok(with_tag(inner, Some(t.suffix.clone())))
        }
        Some(t) if t.is_yaml_core_schema() && t.suffix == "str" => {
            Ok(Value::String(text.to_string()))
        }
        Some(_) => Err(GiveUp),
    }
}

/// What a plain scalar reads as (`None` for the 128-bit integers left to `yaml_serde`).
pub(super) fn plain_scalar_value(text: &str) -> Option<Value> {
    resolve_plain(text).ok()
}

/// A plain scalar as `yaml_serde` resolves it.
fn resolve_plain(text: &str) -> Result<Value, GiveUp> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        _ => {}
    }
    // Only text that starts like a number can be one; everything else is a string at once.
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return Ok(Value::String(text.to_string()));
    }
    if let Some(n) = parse_unsigned(text) {
        return Ok(Value::Number(n.into()));
    }
    if let Some(n) = parse_negative(text) {
        return Ok(Value::Number(n.into()));
    }
    if parse_unsigned_u128(text) || parse_negative_i128(text) {
        return Err(GiveUp);
    }
    if !digits_but_not_number(text) {
        if let Some(f) = parse_f64(text) {
            return Ok(Value::Number(Number::from(f)));
        }
    }
    Ok(Value::String(text.to_string()))
}

fn radix_body(text: &str) -> Option<(&str, u32)> {
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return Some((rest, radix));
        }
    }
    None
}

fn parse_unsigned(text: &str) -> Option<u64> {
    let unpositive = text.strip_prefix('+').unwrap_or(text);
    if let Some((rest, radix)) = radix_body(unpositive) {
        if rest.starts_with(['+', '-']) {
            return None;
        }
        if let Ok(n) = u64::from_str_radix(rest, radix) {
            return Some(n);
        }
    }
    if unpositive.starts_with(['+', '-']) || digits_but_not_number(text) {
        return None;
    }
    unpositive.parse::<u64>().ok()
}

fn parse_negative(text: &str) -> Option<i64> {
    if let Some(rest) = text.strip_prefix('-') {
        if let Some((body, radix)) = radix_body(rest) {
            if let Ok(n) = i64::from_str_radix(&format!("-{body}"), radix) {
                return Some(n);
            }
        }
    }
    if digits_but_not_number(text) {
        return None;
    }
    text.parse::<i64>().ok()
}

fn parse_unsigned_u128(text: &str) -> bool {
    let unpositive = text.strip_prefix('+').unwrap_or(text);
    !unpositive.starts_with(['+', '-'])
        && !digits_but_not_number(text)
        && unpositive.parse::<u128>().is_ok()
}

fn parse_negative_i128(text: &str) -> bool {
    !digits_but_not_number(text) && text.parse::<i128>().is_ok()
}

fn parse_f64(text: &str) -> Option<f64> {
    let unpositive = match text.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return None,
        Some(rest) => rest,
        None => text,
    };
    if let ".inf" | ".Inf" | ".INF" = unpositive {
        return Some(f64::INFINITY);
    }
    if let "-.inf" | "-.Inf" | "-.INF" = text {
        return Some(f64::NEG_INFINITY);
    }
    if let ".nan" | ".NaN" | ".NAN" = text {
        return Some(f64::NAN.copysign(1.0));
    }
    unpositive.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Leading zeros followed by digits: a string in YAML 1.2 (`007`, `-012`).
fn digits_but_not_number(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    t.len() > 1 && t.starts_with('0') && t[1..].bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests;
