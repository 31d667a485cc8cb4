//! Service volume short syntax: `[SOURCE:]TARGET[:MODE]`. OWNER: helper H4 (stub).

use crate::stack::model::ServiceVolume;

/// Parses one short-syntax entry. A source starting with `.`, `/` or `~` is a bind mount
/// (already made absolute by the path stage), otherwise a named volume; no source is an
/// anonymous volume.
pub fn parse_short(_spec: &str) -> Result<ServiceVolume, String> {
    Err("not implemented".into())
}
