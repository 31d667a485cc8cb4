//! Semantic validation of the canonical model, after profiles are applied: what compose-go's
//! `checkConsistency` rejects, plus checks the engine would otherwise fail on later (published
//! port collisions, control characters in names that end up in `/etc/hosts`). OWNER: helper H4.
//!
//! Errors name the key path (`services.web.depends_on.db`) located through [`Positions`];
//! things Compose only warns about become [`Warning`]s. The first error found is returned,
//! in a deterministic order (sections, then services by name).

mod ports;
mod refs;
mod service;
#[cfg(test)]
mod tests;

use super::model::Project;
use super::syntax::names;
use super::{Place, Positions, Result, StackError, Warning};

/// Validates `project` and returns the warnings found.
pub fn validate_project(project: &Project, positions: &Positions) -> Result<Vec<Warning>> {
    let mut v = Validator {
        project,
        positions,
        warnings: Vec::new(),
    };
    v.section_names()?;
    for (name, service) in &project.services {
        v.service(name, service)?;
    }
    v.container_names()?;
    v.published_ports()?;
    Ok(v.warnings)
}

pub(super) struct Validator<'a> {
    pub project: &'a Project,
    pub positions: &'a Positions,
    pub warnings: Vec<Warning>,
}

impl Validator<'_> {
    pub fn place(&self, path: &str) -> Place {
        self.positions.place(path)
    }

    pub fn invalid(&self, path: &str, message: impl Into<String>) -> StackError {
        StackError::Invalid {
            at: self.place(path),
            message: message.into(),
        }
    }

    pub fn undefined(&self, path: &str, message: impl Into<String>) -> StackError {
        StackError::Undefined {
            at: self.place(path),
            message: message.into(),
        }
    }

    pub fn warn(&mut self, path: &str, message: impl Into<String>) {
        let at = self.place(path);
        self.warnings.push(Warning {
            at,
            message: message.into(),
        });
    }

    /// Keys of the top-level sections must match the Compose Specification's pattern; the
    /// full names of local volumes must be names the engine accepts.
    fn section_names(&mut self) -> Result<()> {
        let p = self.project;
        let services = p.services.keys().chain(p.disabled_services.keys());
        for name in services {
            names::service_name(name).map_err(|e| self.invalid(&format!("services.{name}"), e))?;
        }
        for name in p.volumes.keys() {
            names::volume_name(name).map_err(|e| self.invalid(&format!("volumes.{name}"), e))?;
        }
        for name in p.networks.keys() {
            names::network_name(name).map_err(|e| self.invalid(&format!("networks.{name}"), e))?;
        }
        for name in p.secrets.keys() {
            names::secret_or_config_name(name)
                .map_err(|e| self.invalid(&format!("secrets.{name}"), e))?;
        }
        for name in p.configs.keys() {
            names::secret_or_config_name(name)
                .map_err(|e| self.invalid(&format!("configs.{name}"), e))?;
        }
        for (key, volume) in &p.volumes {
            let local = matches!(volume.driver.as_deref(), None | Some("local"));
            if !volume.external && local {
                if let Err(e) = names::engine_volume_name(&volume.name) {
                    self.warn(
                        &format!("volumes.{key}.name"),
                        format!("{e}; the engine will refuse to create it"),
                    );
                }
            }
        }
        Ok(())
    }

    /// No two services may use the same `container_name`.
    fn container_names(&self) -> Result<()> {
        let mut seen: std::collections::BTreeMap<&str, &str> = Default::default();
        for (name, service) in &self.project.services {
            let Some(container) = service.container_name.as_deref() else {
                continue;
            };
            if let Some(first) = seen.insert(container, name) {
                return Err(self.invalid(
                    &format!("services.{name}.container_name"),
                    format!(
                        "container name {container:?} is already used by service `{first}` \
                         (services.{first}.container_name); container names must be unique, \
                         so change one of them"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The closest of `candidates` to `name` (edit distance at most 2), for "did you mean".
pub(super) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a String>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= 2 && *d < name.chars().count().max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
