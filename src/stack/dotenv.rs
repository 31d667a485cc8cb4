//! `.env` and `env_file` syntax, as Compose reads it (compose-go `dotenv`).
//!
//! - `KEY=VAL`, `export KEY=VAL`, and the YAML-like `KEY: VAL`; blank lines; `#` comments.
//! - Unquoted values run to the end of the line; ` #` starts an inline comment; trailing
//!   whitespace is dropped.
//! - `'single'` quotes are literal (only `\'` is unescaped); `"double"` quotes understand
//!   `\n \r \t \f \v \a \b \\ \" \$` and `\0NNN` (octal). Quoted values may span lines.
//! - `${VAR}` and the other interpolation forms are substituted in unquoted and double-quoted
//!   values (`\$` or `$$` for a literal `$`).
//! - A line holding only `KEY` names a variable without a value: `(KEY, None)`.

use std::collections::HashMap;

use super::interpolate::{substitute_with, SubstitutionError};
use super::{Result, StackError};

/// Parses env-file text. `lookup` resolves `${VAR}` references in values; as in Compose, it is
/// asked first and the earlier lines of the same file second. A line `KEY` alone yields
/// `(KEY, None)`. Pairs come in file order (a repeated key appears again; the last wins).
pub fn parse(
    file: &str,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Option<String>)>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = EnvParser {
        file,
        line: 1,
        earlier: HashMap::new(),
        lookup,
    };
    parser.run(text)
}

struct EnvParser<'a> {
    file: &'a str,
    /// Line of the text being read (1-based).
    line: usize,
    /// Values of the earlier lines, for interpolation.
    earlier: HashMap<String, String>,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

/// Compose's "space": whitespace that is not a line break.
fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    )
}

fn is_key_char(c: char) -> bool {
    matches!(c, '_' | '.' | '-' | '[' | ']') || c.is_alphanumeric()
}

impl EnvParser<'_> {
    fn error(&self, line: usize, message: impl Into<String>) -> StackError {
        StackError::EnvFile {
            file: self.file.to_string(),
            line,
            message: message.into(),
        }
    }

    fn run(&mut self, text: &str) -> Result<Vec<(String, Option<String>)>> {
        let mut out = Vec::new();
        let mut rest = text;
        loop {
            rest = self.statement_start(rest);
            if rest.is_empty() {
                return Ok(out);
            }
            let (pair, after) = self.statement(rest)?;
            if let (key, Some(value)) = &pair {
                self.earlier.insert(key.clone(), value.clone());
            }
            out.push(pair);
            rest = after;
        }
    }

    /// Skips whitespace and comment lines, counting line breaks.
    fn statement_start<'t>(&mut self, mut text: &'t str) -> &'t str {
        loop {
            let trimmed = text.trim_start_matches(|c: char| c.is_whitespace());
            self.line += text[..text.len() - trimmed.len()].matches('\n').count();
            text = trimmed;
            if !text.starts_with('#') {
                return text;
            }
            match text.find('\n') {
                Some(i) => text = &text[i..],
                None => return "",
            }
        }
    }

    /// One `KEY=value` or `KEY` statement; returns it and the text after it.
    fn statement<'t>(&mut self, text: &'t str) -> Result<((String, Option<String>), &'t str)> {
        let start_line = self.line;
        let mut src = text;
        if let Some(after) = src.strip_prefix("export") {
            if after.starts_with(is_space) {
                src = after.trim_start_matches(is_space);
            }
        }
        let first_line = src.lines().next().unwrap_or("");
        let mut terminator = None;
        for (i, c) in src.char_indices() {
            if is_space(c) {
                continue;
            }
            match c {
                '=' | ':' | '\n' => {
                    terminator = Some((i, c));
                    break;
                }
                c if is_key_char(c) => {}
                c => {
                    return Err(self.error(
                        start_line,
                        format!(
                            "unexpected character {c:?} in variable name {first_line:?}; names \
                             hold letters, digits, `_`, `.`, `-`, `[` and `]`, followed by \
                             `=` and the value"
                        ),
                    ))
                }
            }
        }
        let (key_raw, inherited, after) = match terminator {
            Some((i, '\n')) => (&src[..i], true, &src[i + 1..]),
            Some((i, _)) => (&src[..i], false, &src[i + 1..]),
            None => (src, true, ""),
        };
        let key = key_raw.trim_end();
        if key.is_empty() {
            return Err(self.error(
                start_line,
                format!("missing variable name in {first_line:?}; write KEY=value"),
            ));
        }
        if key.contains(is_space) {
            return Err(self.error(
                start_line,
                format!("variable name {key:?} cannot contain a space"),
            ));
        }
        if inherited {
            if terminator.is_some() {
                self.line += 1;
            }
            return Ok(((key.to_string(), None), after));
        }
        let after = after.trim_start_matches(is_space);
        let (value, rest) = self.value(after, start_line)?;
        Ok(((key.to_string(), Some(value)), rest))
    }

    /// The value after `=`; returns it and the text after it.
    fn value<'t>(&mut self, src: &'t str, start_line: usize) -> Result<(String, &'t str)> {
        let quote = match src.chars().next() {
            Some(q @ ('"' | '\'')) => q,
            _ => {
                let (raw, rest) = match src.find('\n') {
                    Some(i) => (&src[..i], &src[i..]),
                    None => (src, ""),
                };
                let raw = raw.split(" #").next().unwrap_or("").trim_end();
                return Ok((self.expand(raw, start_line)?, rest));
            }
        };
        let mut chars = String::new();
        let mut escaped = false;
        for (i, c) in src.char_indices().skip(1) {
            if c == '\n' {
                self.line += 1;
            }
            if escaped {
                escaped = false;
                // An escaped quote drops its backslash; other escapes keep it for later.
                if c != quote {
                    chars.push('\\');
                }
                chars.push(c);
                continue;
            }
            match c {
                '\\' => escaped = true,
                c if c == quote => {
                    let rest = &src[i + c.len_utf8()..];
                    let value = if quote == '"' {
                        self.expand(&expand_escapes(&chars), start_line)?
                    } else {
                        chars
                    };
                    return Ok((value, rest));
                }
                c => chars.push(c),
            }
        }
        let first_line = src.lines().next().unwrap_or("");
        Err(self.error(
            start_line,
            format!("unterminated quoted value {first_line}; close it with {quote}"),
        ))
    }

    /// Interpolates `${VAR}` references: the caller's lookup first, then earlier lines.
    fn expand(&self, value: &str, line: usize) -> Result<String> {
        let lookup = |name: &str| (self.lookup)(name).or_else(|| self.earlier.get(name).cloned());
        let mut unset = Vec::new();
        let result = substitute_with(value, &lookup, &mut |name| unset.push(name.to_string()));
        for name in unset {
            tracing::warn!(
                "{}:{line}: the \"{name}\" variable is not set; defaulting to a blank string",
                self.file
            );
        }
        result.map_err(|e| {
            let message = match e {
                SubstitutionError::Invalid { variable, message } => {
                    format!("invalid interpolation of `{variable}`: {message}")
                }
                SubstitutionError::Required { .. } => e.to_string(),
            };
            self.error(line, message)
        })
    }
}

/// Double-quote escapes: `\a \b \f \n \r \t \v \\ \"`, `\$` (kept as `$$` so that it stays a
/// literal `$` through interpolation) and `\0NNN` octal; anything else is left as written.
fn expand_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&next) = chars.peek() else {
            out.push('\\');
            continue;
        };
        let replacement = match next {
            'a' => Some("\u{7}"),
            'b' => Some("\u{8}"),
            'f' => Some("\u{c}"),
            'n' => Some("\n"),
            'r' => Some("\r"),
            't' => Some("\t"),
            'v' => Some("\u{b}"),
            '\\' => Some("\\"),
            '"' => Some("\""),
            '$' => Some("$$"),
            _ => None,
        };
        if let Some(r) = replacement {
            chars.next();
            out.push_str(r);
            continue;
        }
        if next == '0' {
            let digits: String = chars.clone().skip(1).take(3).collect();
            if digits.len() == 3 && digits.chars().all(|d| ('0'..='7').contains(&d)) {
                if let Ok(byte) = u8::from_str_radix(&digits, 8) {
                    for _ in 0..4 {
                        chars.next();
                    }
                    out.push(char::from(byte));
                    continue;
                }
            }
        }
        out.push('\\');
    }
    out
}

#[cfg(test)]
mod tests;
