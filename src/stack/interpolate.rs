//! `$VAR`, `${VAR}`, `${VAR:-default}` ... interpolation over a YAML tree, as Compose does it:
//! every string scalar that is a mapping value or a sequence item is substituted; keys are not.
//! Values keep their type: a substituted `"8080"` stays a string for the typing stage to read.

mod template;

pub use template::{substitute, substitute_with, SubstitutionError};

use serde_yaml::Value;

use super::positions::{join_index, join_key, key_text, PositionIndex};
use super::{Environment, Place, Result, StackError};

/// Interpolates every string scalar (mapping values and sequence items) of `value` in place.
/// An unset variable without a default becomes an empty string and is warned about.
pub fn interpolate_tree(
    value: &mut Value,
    env: &Environment,
    positions: &PositionIndex,
) -> Result<()> {
    let lookup = |name: &str| env.get(name).map(str::to_string);
    walk(value, &String::new, &lookup, positions)
}

/// Interpolates one string found at `path` (for callers outside the tree walk).
pub fn interpolate_str(
    text: &str,
    env: &Environment,
    at: impl FnOnce() -> Place,
) -> Result<String> {
    let lookup = |name: &str| env.get(name).map(str::to_string);
    let mut unset = Vec::new();
    let result = substitute_with(text, &lookup, &mut |name| unset.push(name.to_string()));
    match result {
        Ok(s) => {
            if !unset.is_empty() {
                let place = at();
                for name in unset {
                    warn_unset(&name, &place);
                }
            }
            Ok(s)
        }
        Err(e) => Err(to_stack_error(e, at())),
    }
}

fn walk(
    value: &mut Value,
    path: &dyn Fn() -> String,
    lookup: &dyn Fn(&str) -> Option<String>,
    positions: &PositionIndex,
) -> Result<()> {
    match value {
        Value::String(s) => {
            if !s.contains('$') {
                return Ok(());
            }
            let mut unset = Vec::new();
            let result = substitute_with(s, lookup, &mut |name| unset.push(name.to_string()));
            match result {
                Ok(new) => {
                    if !unset.is_empty() {
                        let place = positions.place(&path());
                        for name in unset {
                            warn_unset(&name, &place);
                        }
                    }
                    *s = new;
                    Ok(())
                }
                Err(e) => Err(to_stack_error(e, positions.place(&path()))),
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                if matches!(v, Value::Null | Value::Bool(_) | Value::Number(_)) {
                    continue;
                }
                walk(v, &|| join_key(&path(), &key_text(k)), lookup, positions)?;
            }
            Ok(())
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &|| join_index(&path(), i), lookup, positions)?;
            }
            Ok(())
        }
        Value::Tagged(tagged) => walk(&mut tagged.value, path, lookup, positions),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn warn_unset(name: &str, place: &Place) {
    tracing::warn!("{place}: the \"{name}\" variable is not set; defaulting to a blank string");
}

/// Turns a substitution error at `at` into the [`StackError`] users see.
pub fn to_stack_error(e: SubstitutionError, at: Place) -> StackError {
    match e {
        SubstitutionError::Invalid { variable, message } => StackError::Interpolation {
            at,
            variable,
            message,
        },
        SubstitutionError::Required { variable, message } => StackError::RequiredVariable {
            at,
            message: if message.is_empty() {
                format!("set {variable} in the environment or in the .env file")
            } else {
                message
            },
            variable,
        },
    }
}

#[cfg(test)]
mod tests;
