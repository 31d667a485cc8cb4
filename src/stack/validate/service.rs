//! Checks of one enabled service's own settings.

use super::Validator;
use crate::stack::model::Service;
use crate::stack::syntax::{devices, hosts, mount_targets, names, restart, signals};
use crate::stack::Result;

/// `network_mode` values the engine knows; anything else names an existing network.
const NETWORK_MODES: [&str; 4] = ["none", "host", "bridge", "default"];

impl Validator<'_> {
    pub(super) fn service(&mut self, name: &str, s: &Service) -> Result<()> {
        let at = |key: &str| format!("services.{name}.{key}");
        if s.image.is_none() && s.build.is_none() {
            return Err(self.invalid(
                &format!("services.{name}"),
                format!(
                    "service `{name}` has neither an image nor a build context; add `image:` \
                     or `build:`"
                ),
            ));
        }
        if let Some(build) = &s.build {
            if build.dockerfile.is_some() && build.dockerfile_inline.is_some() {
                return Err(self.invalid(
                    &at("build"),
                    "`dockerfile` and `dockerfile_inline` are mutually exclusive; keep one",
                ));
            }
        }
        self.network_mode(name, s)?;
        self.service_references(name, s)?;
        self.resource_references(name, s)?;
        self.container_name(name, s)?;
        self.names_and_dns(name, s)?;
        self.mount_targets(name, s)?;
        self.runtime_settings(name, s)?;
        self.deploy_conflicts(name, s)?;
        Ok(())
    }

    fn network_mode(&mut self, name: &str, s: &Service) -> Result<()> {
        let Some(mode) = s.network_mode.as_deref() else {
            return Ok(());
        };
        let path = format!("services.{name}.network_mode");
        if !s.networks.is_empty() {
            return Err(self.invalid(
                &path,
                "`network_mode` and `networks` are mutually exclusive; remove one of them",
            ));
        }
        hosts::check_no_control_chars("network_mode", mode).map_err(|e| self.invalid(&path, e))?;
        if let Some(container) = mode.strip_prefix("container:") {
            if container.is_empty() {
                return Err(self.invalid(
                    &path,
                    "`network_mode: container:` names no container; write `container:NAME`",
                ));
            }
        } else if !mode.starts_with("service:") && !NETWORK_MODES.contains(&mode) {
            self.warn(
                &path,
                format!(
                    "network_mode `{mode}` is not none, host, bridge, service:NAME or \
                     container:NAME; the engine will look for an existing network of that name"
                ),
            );
        }
        Ok(())
    }

    fn container_name(&self, name: &str, s: &Service) -> Result<()> {
        let Some(container) = s.container_name.as_deref() else {
            return Ok(());
        };
        let path = format!("services.{name}.container_name");
        names::container_name(container).map_err(|e| self.invalid(&path, e))?;
        if s.replicas() > 1 {
            return Err(self.invalid(
                &path,
                format!(
                    "service `{name}` sets container_name but runs {} replicas; a container \
                     name must be unique, so remove container_name or scale to 1",
                    s.replicas()
                ),
            ));
        }
        Ok(())
    }

    /// hostname, domainname, extra_hosts, dns, dns_search: no control characters (they land in
    /// `/etc/hosts` and `resolv.conf`), DNS servers are IPs.
    fn names_and_dns(&self, name: &str, s: &Service) -> Result<()> {
        for (key, value) in [("hostname", &s.hostname), ("domainname", &s.domainname)] {
            let Some(value) = value.as_deref() else {
                continue;
            };
            let path = format!("services.{name}.{key}");
            // Only control characters: the engine accepts names RFC 1123 would not (`a_b`).
            hosts::check_no_control_chars(key, value).map_err(|e| self.invalid(&path, e))?;
        }
        let extra_hosts = s.extra_hosts.iter().map(|h| ("extra_hosts", h));
        let build_hosts = s
            .build
            .iter()
            .flat_map(|b| b.extra_hosts.iter().map(|h| ("build.extra_hosts", h)));
        let mut counters = [0usize; 2];
        for (key, entry) in extra_hosts.chain(build_hosts) {
            let slot = usize::from(key != "extra_hosts");
            let i = counters[slot];
            counters[slot] += 1;
            hosts::extra_host(&entry.host, &entry.ip)
                .map_err(|e| self.invalid(&format!("services.{name}.{key}[{i}]"), e))?;
        }
        for (i, dns) in s.dns.iter().enumerate() {
            hosts::validate_dns_entry(dns)
                .map_err(|e| self.invalid(&format!("services.{name}.dns[{i}]"), e))?;
        }
        for (key, list) in [("dns_search", &s.dns_search), ("dns_opt", &s.dns_opt)] {
            for (i, entry) in list.iter().enumerate() {
                hosts::check_no_control_chars(key, entry)
                    .map_err(|e| self.invalid(&format!("services.{name}.{key}[{i}]"), e))?;
            }
        }
        Ok(())
    }

    /// volumes, tmpfs, secrets and configs: container paths outside the kernel's /proc and
    /// /sys (however spelled), tmpfs's own options only.
    fn mount_targets(&self, name: &str, s: &Service) -> Result<()> {
        let at = |key: &str, i: usize| format!("services.{name}.{key}[{i}]");
        for (i, v) in s.volumes.iter().enumerate() {
            mount_targets::container_path(&v.target)
                .map_err(|e| self.invalid(&at("volumes", i), e))?;
        }
        for (i, t) in s.tmpfs.iter().enumerate() {
            mount_targets::tmpfs_entry(t).map_err(|e| self.invalid(&at("tmpfs", i), e))?;
        }
        for (key, refs) in [("secrets", &s.secrets), ("configs", &s.configs)] {
            for (i, r) in refs.iter().enumerate() {
                mount_targets::container_path(&r.target)
                    .map_err(|e| self.invalid(&at(key, i), e))?;
            }
        }
        Ok(())
    }

    /// restart, stop_signal, healthcheck.test, devices, ulimits.
    fn runtime_settings(&self, name: &str, s: &Service) -> Result<()> {
        let at = |key: &str| format!("services.{name}.{key}");
        if let Some(policy) = s.restart.as_deref() {
            restart::parse_restart(policy).map_err(|e| self.invalid(&at("restart"), e))?;
        }
        if let Some(signal) = s.stop_signal.as_deref() {
            signals::validate_signal(signal).map_err(|e| self.invalid(&at("stop_signal"), e))?;
        }
        if let Some(first) = s.healthcheck.as_ref().and_then(|h| h.test.first()) {
            if !matches!(first.as_str(), "CMD" | "CMD-SHELL" | "NONE") {
                return Err(self.invalid(
                    &at("healthcheck.test"),
                    format!(
                        "healthcheck.test starts with `{first}`; a list must start with \
                         \"CMD\", \"CMD-SHELL\" or \"NONE\" (or give a string to run in a shell)"
                    ),
                ));
            }
        }
        for (i, d) in s.devices.iter().enumerate() {
            devices::device(&d.source, &d.target, &d.permissions)
                .map_err(|e| self.invalid(&format!("services.{name}.devices[{i}]"), e))?;
        }
        for (limit, u) in &s.ulimits {
            crate::stack::syntax::ulimits::ulimit(limit, u.soft, u.hard)
                .map_err(|e| self.invalid(&format!("services.{name}.ulimits.{limit}"), e))?;
        }
        Ok(())
    }

    /// A setting given both directly and under `deploy` must agree (compose-go rejects
    /// distinct values).
    fn deploy_conflicts(&self, name: &str, s: &Service) -> Result<()> {
        let Some(deploy) = &s.deploy else {
            return Ok(());
        };
        let limits = deploy.resources.as_ref().and_then(|r| r.limits.as_ref());
        let reservations = deploy
            .resources
            .as_ref()
            .and_then(|r| r.reservations.as_ref());
        let conflict = |key: &str, deploy_key: &str| {
            self.invalid(
                &format!("services.{name}.{key}"),
                format!(
                    "`{key}` and `deploy.{deploy_key}` are set to different values; set only \
                     one of them"
                ),
            )
        };
        if let (Some(a), Some(b)) = (s.cpus, limits.and_then(|l| l.cpus)) {
            if a != b {
                return Err(conflict("cpus", "resources.limits.cpus"));
            }
        }
        if let (Some(a), Some(b)) = (s.mem_limit, limits.and_then(|l| l.memory)) {
            if a != b {
                return Err(conflict("mem_limit", "resources.limits.memory"));
            }
        }
        if let (Some(a), Some(b)) = (s.pids_limit, limits.and_then(|l| l.pids)) {
            if a != b {
                return Err(conflict("pids_limit", "resources.limits.pids"));
            }
        }
        if let (Some(a), Some(b)) = (s.mem_reservation, reservations.and_then(|l| l.memory)) {
            if a != b {
                return Err(conflict("mem_reservation", "resources.reservations.memory"));
            }
        }
        if let (Some(a), Some(b)) = (s.scale, deploy.replicas) {
            if a != b {
                return Err(conflict("scale", "replicas"));
            }
        }
        Ok(())
    }
}
