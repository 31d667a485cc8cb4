//! Input structs -> canonical model, as compose-go's `loader/normalize.go` does: every short
//! syntax expanded, every default applied, full resource names, implicit dependencies and the
//! implicit `default` network. Every error names the key path and its location.

mod env;
mod mounts;
mod parts;
mod resources;
mod service;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_service;

use std::collections::BTreeMap;
use std::path::Path;

use super::duration::GoDuration;
use super::input::{IntOrString, StackFile};
use super::model::Network;
use super::positions::join_key;
use super::{Environment, Place, Positions, Project, Result, StackError};

pub struct Context<'a> {
    pub project_name: &'a str,
    pub project_dir: &'a Path,
    pub env: &'a Environment,
    pub positions: &'a Positions,
}

impl Context<'_> {
    fn place(&self, path: &str) -> Place {
        self.positions.place(path)
    }

    /// An [`StackError::Invalid`] at `path`.
    fn invalid(&self, path: &str, message: impl Into<String>) -> StackError {
        StackError::Invalid {
            at: self.place(path),
            message: message.into(),
        }
    }

    /// A Go duration at `path`.
    fn duration(&self, path: &str, value: Option<String>) -> Result<Option<GoDuration>> {
        value
            .map(|v| {
                GoDuration::parse(&v)
                    .map_err(|e| self.invalid(path, format!("invalid duration: {e}")))
            })
            .transpose()
    }

    /// A byte size at `path`: an integer is bytes, a string goes through `syntax::units`.
    fn bytes(&self, path: &str, value: Option<IntOrString>) -> Result<Option<u64>> {
        let Some(value) = value else {
            return Ok(None);
        };
        let bytes = match value {
            IntOrString::Int(n) => u64::try_from(n).map_err(|_| {
                self.invalid(
                    path,
                    format!("size {n} is negative; use a size like `512m`"),
                )
            }),
            IntOrString::Float(f) if f >= 0.0 && f.is_finite() => Ok(f as u64),
            IntOrString::Float(f) => Err(self.invalid(path, format!("invalid size {f}"))),
            IntOrString::Str(s) => {
                super::syntax::units::parse_bytes(&s).map_err(|e| self.invalid(path, e))
            }
        }?;
        Ok(Some(bytes))
    }
}

/// Normalizes the typed stack into the canonical project.
pub fn normalize(input: StackFile, ctx: &Context<'_>) -> Result<Project> {
    let mut project = Project {
        name: ctx.project_name.to_string(),
        working_dir: ctx.project_dir.to_path_buf(),
        ..Default::default()
    };
    for (key, network) in input.networks.unwrap_or_default() {
        let network = resources::network(&key, network.unwrap_or_default(), ctx)?;
        project.networks.insert(key, network);
    }
    for (key, volume) in input.volumes.unwrap_or_default() {
        let volume = resources::volume(&key, volume.unwrap_or_default(), ctx)?;
        project.volumes.insert(key, volume);
    }
    for (key, secret) in input.secrets.unwrap_or_default() {
        project
            .secrets
            .insert(key.clone(), resources::secret(&key, secret, ctx)?);
    }
    for (key, config) in input.configs.unwrap_or_default() {
        project
            .configs
            .insert(key.clone(), resources::config(&key, config, ctx)?);
    }
    for (name, service) in input.services.unwrap_or_default() {
        let service = service::service(&name, service, ctx)?;
        project.services.insert(name, service);
    }
    add_default_network(&mut project);
    Ok(project)
}

/// Compose's implicit `default` network, created when a service uses it and the file does not
/// declare it.
fn add_default_network(project: &mut Project) {
    let used = project
        .services
        .values()
        .any(|s| s.networks.contains_key("default"));
    if used && !project.networks.contains_key("default") {
        project.networks.insert(
            "default".to_string(),
            Network {
                name: resource_name(&project.name, "default"),
                ..Default::default()
            },
        );
    }
}

/// `<project>_<key>`, the full name of a resource without `name:`.
fn resource_name(project: &str, key: &str) -> String {
    format!("{project}_{key}")
}

/// Key-value entries to a map of strings; an entry without a value maps to `""`.
fn string_map(entries: Vec<(String, Option<String>)>) -> BTreeMap<String, String> {
    entries
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect()
}

/// `base.key` for key paths.
fn at(base: &str, key: &str) -> String {
    join_key(base, key)
}
