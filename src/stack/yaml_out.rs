//! Writes the canonical model as YAML, the way `docker compose config` lays it out: block
//! mappings, sequence items indented under their key, strings plain where that reads back as
//! the same string and double-quoted otherwise.
//!
//! Much faster than the general emitter of `yaml_serde` on large stacks; a value this writer
//! does not handle (a tagged value, a non-scalar mapping key) falls back to that emitter.

use std::fmt::Write as _;

use serde::Serialize;
use serde_yaml::Value;

use super::yaml_tree;

/// `value` as a YAML document.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_yaml::Error> {
    let tree = serde_yaml::to_value(value)?;
    match write_document(&tree) {
        Some(text) => Ok(text),
        None => serde_yaml::to_string(&tree),
    }
}

/// The YAML text of `tree`, or `None` when it holds something this writer leaves to
/// `yaml_serde`.
pub fn write_document(tree: &Value) -> Option<String> {
    let mut out = String::with_capacity(4096);
    if is_block(tree) {
        block(&mut out, tree, 0, false)?;
    } else {
        inline(&mut out, tree)?;
        out.push('\n');
    }
    Some(out)
}

/// A non-empty mapping or sequence: written over several lines.
fn is_block(v: &Value) -> bool {
    match v {
        Value::Mapping(m) => !m.is_empty(),
        Value::Sequence(s) => !s.is_empty(),
        _ => false,
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// Writes a block node at `indent`; with `continued`, the first line's indentation is already
/// written (a `- ` sequence item).
fn block(out: &mut String, v: &Value, indent: usize, continued: bool) -> Option<()> {
    let mut first = true;
    match v {
        Value::Mapping(m) => {
            for (k, val) in m {
                if !(first && continued) {
                    pad(out, indent);
                }
                first = false;
                if is_block(k) || matches!(k, Value::Tagged(_)) {
                    return None;
                }
                inline(out, k)?;
                out.push(':');
                if is_block(val) {
                    out.push('\n');
                    block(out, val, indent + 2, false)?;
                } else {
                    out.push(' ');
                    inline(out, val)?;
                    out.push('\n');
                }
            }
        }
        Value::Sequence(items) => {
            for item in items {
                if !(first && continued) {
                    pad(out, indent);
                }
                first = false;
                out.push_str("- ");
                if is_block(item) {
                    block(out, item, indent + 2, true)?;
                } else {
                    inline(out, item)?;
                    out.push('\n');
                }
            }
        }
        _ => return None,
    }
    Some(())
}

/// A scalar or an empty container on the current line.
fn inline(out: &mut String, v: &Value) -> Option<()> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => string(out, s),
        Value::Mapping(m) if m.is_empty() => out.push_str("{}"),
        Value::Sequence(s) if s.is_empty() => out.push_str("[]"),
        _ => return None,
    }
    Some(())
}

fn string(out: &mut String, s: &str) {
    if plain_is_safe(s) {
        out.push_str(s);
    } else {
        double_quoted(out, s);
    }
}

/// Whether `s` written plain reads back as the same string, in YAML 1.2 and in YAML 1.1
/// readers alike (`yes`, `on`... are quoted).
fn plain_is_safe(s: &str) -> bool {
    let bytes = s.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !(first.is_ascii_alphanumeric() || matches!(first, b'/' | b'.' | b'_' | b'$')) {
        return false;
    }
    if last == b' ' || last == b':' {
        return false;
    }
    let mut prev = 0u8;
    for &b in bytes {
        let ok = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'_' | b'.'
                    | b'/'
                    | b'-'
                    | b'+'
                    | b'='
                    | b':'
                    | b'~'
                    | b'('
                    | b')'
                    | b'^'
                    | b'$'
                    | b';'
                    | b' '
            );
        if !ok || (prev == b':' && b == b' ') || (prev == b' ' && b == b' ') {
            return false;
        }
        prev = b;
    }
    if is_yaml11_special(s) {
        return false;
    }
    matches!(yaml_tree::plain_scalar_value(s), Some(Value::String(_)))
}

/// Words that YAML 1.1 readers take for booleans or null.
fn is_yaml11_special(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | "nan" | "inf"
    )
}

/// A double-quoted scalar: JSON-style escapes, every control character escaped.
fn double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests;
