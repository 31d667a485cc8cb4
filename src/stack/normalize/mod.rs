//! Input structs -> canonical model. OWNER: helper H3 (stub).

use std::path::Path;

use super::input::StackFile;
use super::{Environment, Positions, Project, Result};

pub struct Context<'a> {
    pub project_name: &'a str,
    pub project_dir: &'a Path,
    pub env: &'a Environment,
    pub positions: &'a Positions,
}

pub fn normalize(_input: StackFile, ctx: &Context<'_>) -> Result<Project> {
    Ok(Project {
        name: ctx.project_name.to_string(),
        working_dir: ctx.project_dir.to_path_buf(),
        ..Default::default()
    })
}
