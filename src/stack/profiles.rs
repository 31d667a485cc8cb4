//! Profiles: services with `profiles:` start only when one of them is active.
//! OWNER: helper H2 (stub).

use super::{Environment, Positions, Project, Result};

/// `--profile` values, else COMPOSE_PROFILES (comma separated).
pub fn active_profiles(cli: &[String], _env: &Environment) -> Vec<String> {
    cli.to_vec()
}

/// Moves services none of whose profiles is active to `disabled_services`.
pub fn apply_profiles(_project: &mut Project, _active: &[String], _positions: &Positions) -> Result<()> {
    Ok(())
}
