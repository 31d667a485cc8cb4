//! References from a service to other services and to top-level volumes, networks, secrets
//! and configs.

use super::{suggest, Validator};
use crate::stack::model::{Service, VolumeKind};
use crate::stack::Result;

impl Validator<'_> {
    /// Why `target` is not an enabled service, and what to do about it.
    fn missing_service(&self, target: &str) -> String {
        if let Some(disabled) = self.project.disabled_services.get(target) {
            let profiles = &disabled.profiles;
            let first = profiles.first().map(String::as_str).unwrap_or("PROFILE");
            return format!(
                "service `{target}` is disabled because none of its profiles ({}) is active; \
                 enable it with `--profile {first}` or COMPOSE_PROFILES={first}",
                profiles.join(", ")
            );
        }
        let all = self
            .project
            .services
            .keys()
            .chain(self.project.disabled_services.keys());
        match suggest(target, all) {
            Some(s) => format!("no service is named `{target}`; did you mean `{s}`?"),
            None => format!("no service is named `{target}`; define it under `services`"),
        }
    }

    fn is_service(&self, name: &str) -> bool {
        self.project.services.contains_key(name)
    }

    /// `depends_on`, `links`, `volumes_from`, and `service:` in `network_mode`, `ipc`, `pid`.
    /// The implicit dependencies are checked first so that the error names the key the user
    /// wrote rather than the `depends_on` entry normalization derived from it.
    pub(super) fn service_references(&self, name: &str, s: &Service) -> Result<()> {
        for (i, link) in s.links.iter().enumerate() {
            let target = link.split_once(':').map_or(link.as_str(), |(t, _)| t);
            if !self.is_service(target) {
                return Err(self.undefined(
                    &format!("services.{name}.links[{i}]"),
                    format!(
                        "service `{name}` links to `{target}`: {}",
                        self.missing_service(target)
                    ),
                ));
            }
        }
        for (i, entry) in s.volumes_from.iter().enumerate() {
            let path = format!("services.{name}.volumes_from[{i}]");
            let (target, mode, container) = split_volumes_from(entry);
            if let Some(mode) = mode {
                if mode != "ro" && mode != "rw" {
                    return Err(self.invalid(
                        &path,
                        format!("volumes_from `{entry}` has the mode `{mode}`; use ro or rw"),
                    ));
                }
            }
            if target.is_empty() {
                return Err(self.invalid(
                    &path,
                    format!("volumes_from `{entry}` names no service or container"),
                ));
            }
            if !container && !self.is_service(target) {
                return Err(self.undefined(
                    &path,
                    format!(
                        "service `{name}` mounts the volumes of `{target}`: {}",
                        self.missing_service(target)
                    ),
                ));
            }
        }
        for key in ["network_mode", "ipc", "pid"] {
            let value = match key {
                "network_mode" => s.network_mode.as_deref(),
                "ipc" => s.ipc.as_deref(),
                _ => s.pid.as_deref(),
            };
            let Some(target) = value.and_then(|v| v.strip_prefix("service:")) else {
                continue;
            };
            let path = format!("services.{name}.{key}");
            if target.is_empty() {
                return Err(self.invalid(
                    &path,
                    format!("`{key}: service:` names no service; write `service:NAME`"),
                ));
            }
            if !self.is_service(target) {
                return Err(self.undefined(
                    &path,
                    format!(
                        "`{key}: service:{target}` refers to a missing service: {}",
                        self.missing_service(target)
                    ),
                ));
            }
        }
        for (target, dep) in &s.depends_on {
            if self.is_service(target) {
                continue;
            }
            if !dep.required && self.project.disabled_services.contains_key(target) {
                continue;
            }
            return Err(self.undefined(
                &format!("services.{name}.depends_on.{target}"),
                format!(
                    "service `{name}` depends on `{target}`: {}",
                    self.missing_service(target)
                ),
            ));
        }
        Ok(())
    }

    /// Named volumes, networks, secrets and configs must be defined at the top level.
    pub(super) fn resource_references(&self, name: &str, s: &Service) -> Result<()> {
        let p = self.project;
        for (i, v) in s.volumes.iter().enumerate() {
            let (VolumeKind::Volume, Some(source)) = (v.kind, v.source.as_deref()) else {
                continue;
            };
            if !p.volumes.contains_key(source) {
                return Err(self.undefined(
                    &format!("services.{name}.volumes[{i}]"),
                    format!(
                        "service `{name}` uses the volume `{source}`, which is not defined in \
                         the top-level `volumes`{}",
                        hint(source, p.volumes.keys(), "volumes")
                    ),
                ));
            }
        }
        for network in s.networks.keys() {
            if !p.networks.contains_key(network) {
                return Err(self.undefined(
                    &format!("services.{name}.networks.{network}"),
                    format!(
                        "service `{name}` joins the network `{network}`, which is not defined \
                         in the top-level `networks`{}",
                        hint(network, p.networks.keys(), "networks")
                    ),
                ));
            }
        }
        for (i, secret) in s.secrets.iter().enumerate() {
            if !p.secrets.contains_key(&secret.source) {
                return Err(self.undefined(
                    &format!("services.{name}.secrets[{i}]"),
                    format!(
                        "service `{name}` uses the secret `{}`, which is not defined in the \
                         top-level `secrets`{}",
                        secret.source,
                        hint(&secret.source, p.secrets.keys(), "secrets")
                    ),
                ));
            }
        }
        for (i, config) in s.configs.iter().enumerate() {
            if !p.configs.contains_key(&config.source) {
                return Err(self.undefined(
                    &format!("services.{name}.configs[{i}]"),
                    format!(
                        "service `{name}` uses the config `{}`, which is not defined in the \
                         top-level `configs`{}",
                        config.source,
                        hint(&config.source, p.configs.keys(), "configs")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// `SERVICE[:MODE]` or `container:NAME[:MODE]` -> (name, mode, is a container).
fn split_volumes_from(entry: &str) -> (&str, Option<&str>, bool) {
    let (rest, container) = match entry.strip_prefix("container:") {
        Some(rest) => (rest, true),
        None => (entry, false),
    };
    match rest.split_once(':') {
        Some((target, mode)) => (target, Some(mode), container),
        None => (rest, None, container),
    }
}

fn hint<'a>(name: &str, keys: impl IntoIterator<Item = &'a String>, section: &str) -> String {
    match suggest(name, keys) {
        Some(s) => format!("; did you mean `{s}`?"),
        None => format!("; add `{name}:` under the top-level `{section}`"),
    }
}
