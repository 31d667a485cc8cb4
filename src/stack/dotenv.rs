//! `.env` and `env_file` syntax, as Compose reads it. OWNER: helper H1 (stub).

use super::Result;

/// Parses env-file text. `lookup` resolves `${VAR}` references in values (earlier lines of the
/// same file first, then the caller's environment). A line `KEY` alone yields `(KEY, None)`.
pub fn parse(
    _file: &str,
    _text: &str,
    _lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Option<String>)>> {
    Ok(Vec::new())
}
