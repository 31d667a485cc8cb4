//! Semantic validation of the canonical model. OWNER: helper H4 (stub).

use super::{Positions, Project, Result, Warning};

pub fn validate_project(_project: &Project, _positions: &Positions) -> Result<Vec<Warning>> {
    Ok(Vec::new())
}
