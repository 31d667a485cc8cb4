//! Compose's variable substitution in one string (compose-go `template`): `$VAR`, `${VAR}`,
//! `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`, `${VAR?err}`, `${VAR:+alt}`,
//! `${VAR+alt}`, `$$` for a literal `$`. Defaults, alternatives and messages are themselves
//! templates (evaluated first, as Compose does), so they nest: `${A:-${B:-x}}`.

use std::fmt;

/// What is wrong with a template, or which required variable is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubstitutionError {
    /// Malformed syntax. `variable` is the variable's name when it could be read, else the
    /// offending fragment (such as `${`).
    Invalid { variable: String, message: String },
    /// `${VAR:?msg}` with VAR unset or empty, or `${VAR?msg}` with VAR unset.
    Required { variable: String, message: String },
}

impl SubstitutionError {
    pub fn variable(&self) -> &str {
        match self {
            SubstitutionError::Invalid { variable, .. }
            | SubstitutionError::Required { variable, .. } => variable,
        }
    }
}

impl fmt::Display for SubstitutionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubstitutionError::Invalid { variable, message } => {
                write!(f, "invalid interpolation of `{variable}`: {message}")
            }
            SubstitutionError::Required { variable, message } => {
                write!(f, "required variable {variable} is missing a value")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for SubstitutionError {}

/// Substitutes the variables of `template`; `lookup` returns `None` for an unset variable.
/// An unset variable without a default becomes an empty string, with a warning (as in Compose).
pub fn substitute(
    template: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, SubstitutionError> {
    substitute_with(template, lookup, &mut |name| {
        tracing::warn!("The \"{name}\" variable is not set. Defaulting to a blank string.");
    })
}

/// Like [`substitute`], calling `missing` for each unset variable used without a default
/// instead of warning.
pub fn substitute_with(
    template: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    missing: &mut dyn FnMut(&str),
) -> Result<String, SubstitutionError> {
    if !template.contains('$') {
        return Ok(template.to_string());
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        match after.as_bytes().first() {
            Some(b'$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some(b'{') => {
                let (value, consumed) = braced(&after[1..], lookup, missing)?;
                out.push_str(&value);
                rest = &after[1 + consumed..];
            }
            Some(&c) if is_name_start(c) => {
                let name = &after[..name_len(after)];
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => missing(name),
                }
                rest = &after[name.len()..];
            }
            _ => {
                let fragment: String = rest[dollar..].chars().take(2).collect();
                return Err(SubstitutionError::Invalid {
                    variable: fragment,
                    message: format!(
                        "`$` must be followed by a variable name or `{{`; in {template:?} write \
                         `$$` for a literal `$`"
                    ),
                });
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The operators after a name in `${NAME<op>arg}`, two-character ones first.
const OPERATORS: [&str; 6] = [":-", ":?", ":+", "-", "?", "+"];

/// Parses `NAME...}` (the text after `${`); returns the value and the bytes consumed,
/// closing brace included.
fn braced(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    missing: &mut dyn FnMut(&str),
) -> Result<(String, usize), SubstitutionError> {
    let len = match text.as_bytes().first() {
        Some(&c) if is_name_start(c) => name_len(text),
        _ => {
            let shown: String = text.chars().take_while(|&c| c != '}').take(20).collect();
            return Err(SubstitutionError::Invalid {
                variable: format!("${{{shown}"),
                message: if text.contains('}') {
                    "a variable name must start with a letter or `_` and hold only letters, \
                     digits and `_`; write `$$` for a literal `$`"
                        .to_string()
                } else {
                    "unterminated `${`: close it with `}` or write `$$` for a literal `$`"
                        .to_string()
                },
            });
        }
    };
    let name = &text[..len];
    let after = &text[len..];
    if after.starts_with('}') {
        let value = match lookup(name) {
            Some(v) => v,
            None => {
                missing(name);
                String::new()
            }
        };
        return Ok((value, len + 1));
    }
    let Some(op) = OPERATORS.iter().find(|op| after.starts_with(**op)) else {
        let message = match after.chars().next() {
            None => "unterminated `${`: close it with `}`".to_string(),
            Some(c) => format!(
                "unexpected {c:?} after the name; use `${{{name}}}`, `${{{name}:-default}}`, \
                 `${{{name}-default}}`, `${{{name}:?error}}`, `${{{name}?error}}`, \
                 `${{{name}:+alternative}}` or `${{{name}+alternative}}`"
            ),
        };
        return Err(SubstitutionError::Invalid {
            variable: name.to_string(),
            message,
        });
    };
    let arg_start = len + op.len();
    let Some(close) = closing_brace(&text[arg_start..]) else {
        return Err(SubstitutionError::Invalid {
            variable: name.to_string(),
            message: "unterminated `${`: close it with `}`".to_string(),
        });
    };
    // Compose evaluates the argument before looking at the variable.
    let arg = substitute_with(&text[arg_start..arg_start + close], lookup, missing)?;
    let value = lookup(name);
    let result = match *op {
        ":-" => match value {
            Some(v) if !v.is_empty() => v,
            _ => arg,
        },
        "-" => value.unwrap_or(arg),
        ":+" => match value {
            Some(v) if !v.is_empty() => arg,
            other => other.unwrap_or_default(),
        },
        "+" => match value {
            Some(_) => arg,
            None => String::new(),
        },
        ":?" => match value {
            Some(v) if !v.is_empty() => v,
            _ => return Err(required(name, arg)),
        },
        _ => match value {
            Some(v) => v,
            None => return Err(required(name, arg)),
        },
    };
    Ok((result, arg_start + close + 1))
}

fn required(name: &str, message: String) -> SubstitutionError {
    SubstitutionError::Required {
        variable: name.to_string(),
        message,
    }
}

/// Index of the `}` closing a `${` whose argument starts `text`: nested `${` open further
/// levels (other braces do not count, as in Compose).
fn closing_brace(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 1usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn name_len(text: &str) -> usize {
    text.bytes()
        .position(|c| !(c == b'_' || c.is_ascii_alphanumeric()))
        .unwrap_or(text.len())
}
