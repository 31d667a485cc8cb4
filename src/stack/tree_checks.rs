//! Checks on the merged tree before typing: keys and values of the Compose Specification that
//! berth does not support yet are errors (never a silent skip), and keys Compose itself ignores
//! outside Swarm are warnings.
//!
//! Every decision is one row of [`RULES`]. A key set to `null` or to an empty list/mapping
//! sets nothing and passes; a key set to one of its `accepted` values (the value that changes
//! nothing, like `oom_kill_disable: false`) passes too.

use serde_yaml::Value;

use super::input::parse_bool;
use super::positions::{join_index, join_key};
use super::{Positions, Result, StackError, Warning};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Refused with [`StackError::Unsupported`].
    Unsupported,
    /// Accepted and ignored with a [`Warning`], as Compose ignores it outside Swarm.
    Ignored,
}
use Kind::{Ignored, Unsupported};

/// One decision: the key at `pattern` (`*` is any name of a mapping, `[]` any item of a
/// list), the values that are fine, and what to tell the user otherwise.
struct Rule {
    pattern: &'static str,
    accepted: &'static [&'static str],
    kind: Kind,
    message: &'static str,
}

const fn rule(
    pattern: &'static str,
    accepted: &'static [&'static str],
    kind: Kind,
    message: &'static str,
) -> Rule {
    Rule {
        pattern,
        accepted,
        kind,
        message,
    }
}

const NONE: &[&str] = &[];
const TRUE: &[&str] = &["true"];
const FALSE: &[&str] = &["false"];
const SWARM: &str = "it only applies to Swarm services; Compose ignores it outside Swarm, and \
                     so does berth";

/// The table of keys the canonical model does not hold (from compose-spec.json), and of values
/// berth cannot honour.
#[rustfmt::skip]
const RULES: &[Rule] = &[
    // Service keys.
    rule("services.*.annotations", NONE, Unsupported, "container annotations are not applied yet; remove the key"),
    rule("services.*.attach", TRUE, Unsupported, "berth always attaches to service logs; remove `attach`"),
    rule("services.*.blkio_config", NONE, Unsupported, "block IO limits are not applied yet; remove the key"),
    rule("services.*.cgroup", NONE, Unsupported, "choosing the cgroup namespace is not supported yet; remove the key"),
    rule("services.*.cgroup_parent", NONE, Unsupported, "a custom parent cgroup is not supported yet; remove the key"),
    rule("services.*.cpu_count", NONE, Unsupported, "a Windows-only setting; use `cpus`"),
    rule("services.*.cpu_percent", NONE, Unsupported, "a Windows-only setting; use `cpus`"),
    rule("services.*.cpu_period", NONE, Unsupported, "CFS period/quota are not supported; use `cpus`"),
    rule("services.*.cpu_quota", NONE, Unsupported, "CFS period/quota are not supported; use `cpus`"),
    rule("services.*.cpu_rt_period", NONE, Unsupported, "real-time CPU scheduling is not supported; remove the key"),
    rule("services.*.cpu_rt_runtime", NONE, Unsupported, "real-time CPU scheduling is not supported; remove the key"),
    rule("services.*.credential_spec", NONE, Unsupported, "a Windows-only setting (gMSA credential specs); remove the key"),
    rule("services.*.develop", NONE, Unsupported, "berth has no watch mode yet (`docker compose watch`); remove the key"),
    rule("services.*.device_cgroup_rules", NONE, Unsupported, "device cgroup rules are not applied yet; list the devices under `devices`"),
    rule("services.*.gpus", NONE, Unsupported, "GPU access is not supported yet; remove the key"),
    rule("services.*.isolation", &["default"], Unsupported, "isolation technologies are Windows-only; remove the key"),
    rule("services.*.label_file", NONE, Unsupported, "labels from files are not read yet; list them under `labels`"),
    rule("services.*.mac_address", NONE, Unsupported, "set the MAC address per network: `networks.<name>.mac_address`"),
    rule("services.*.mem_swappiness", NONE, Unsupported, "memory swappiness is not applied yet; remove the key"),
    rule("services.*.models", NONE, Unsupported, "AI models are not supported; remove the key"),
    rule("services.*.oom_kill_disable", FALSE, Unsupported, "disabling the OOM killer is not supported; remove the key"),
    rule("services.*.post_start", NONE, Unsupported, "lifecycle hooks are not run yet; remove the key"),
    rule("services.*.pre_stop", NONE, Unsupported, "lifecycle hooks are not run yet; remove the key"),
    rule("services.*.provider", NONE, Unsupported, "services managed by an external provider are not supported; remove the service"),
    rule("services.*.pull_refresh_after", NONE, Unsupported, "use `pull_policy: daily`, `weekly` or `every_<duration>`"),
    rule("services.*.runtime", NONE, Unsupported, "choosing another OCI runtime is not supported yet; remove the key"),
    rule("services.*.storage_opt", NONE, Unsupported, "storage driver options are not applied; remove the key"),
    rule("services.*.use_api_socket", FALSE, Unsupported, "berth is daemonless and has no Docker API socket to share"),
    rule("services.*.userns_mode", NONE, Unsupported, "user namespace modes are not supported yet; remove the key"),
    rule("services.*.uts", NONE, Unsupported, "sharing the UTS namespace is not supported yet; remove the key"),
    rule("services.*.env_file.[].format", NONE, Unsupported, "only the Compose env-file format is read; remove `format`"),
    // Build.
    rule("services.*.build.additional_contexts", NONE, Unsupported, "additional build contexts are not supported yet"),
    rule("services.*.build.cache_to", NONE, Unsupported, "cache export is not supported yet; remove the key"),
    rule("services.*.build.entitlements", NONE, Unsupported, "build entitlements are not supported yet; remove the key"),
    rule("services.*.build.isolation", &["default"], Unsupported, "isolation technologies are Windows-only; remove the key"),
    rule("services.*.build.no_cache", FALSE, Unsupported, "building without cache per service is not supported yet"),
    rule("services.*.build.platforms", NONE, Unsupported, "multi-platform builds are not supported yet; use `platform`"),
    rule("services.*.build.privileged", FALSE, Unsupported, "privileged builds are not supported yet"),
    rule("services.*.build.pull", FALSE, Unsupported, "pulling base images on build is not supported yet"),
    rule("services.*.build.secrets", NONE, Unsupported, "build secrets are not supported yet; remove the key"),
    rule("services.*.build.ssh", NONE, Unsupported, "SSH forwarding to builds is not supported yet; remove the key"),
    rule("services.*.build.tags", NONE, Unsupported, "extra image tags are not supported yet; remove the key"),
    rule("services.*.build.ulimits", NONE, Unsupported, "build ulimits are not supported yet; remove the key"),
    // Deploy.
    rule("services.*.deploy.mode", &["replicated"], Unsupported, "only `replicated` is supported: `global` runs one container per Swarm node"),
    rule("services.*.deploy.resources.reservations.devices", NONE, Unsupported, "device (GPU) reservations are not supported yet; remove the key"),
    rule("services.*.deploy.resources.reservations.generic_resources", NONE, Ignored, SWARM),
    rule("services.*.deploy.placement", NONE, Ignored, SWARM),
    rule("services.*.deploy.update_config", NONE, Ignored, SWARM),
    rule("services.*.deploy.rollback_config", NONE, Ignored, SWARM),
    rule("services.*.deploy.endpoint_mode", NONE, Ignored, SWARM),
    rule("services.*.deploy.labels", NONE, Ignored, "it labels the Swarm service, not its containers; Compose ignores it outside Swarm (use `labels` for containers)"),
    // Logging, networks and mounts of a service.
    rule("services.*.logging.driver", &["json-file", "local", "none"], Unsupported, "berth supports the `json-file`, `local` and `none` logging drivers"),
    rule("services.*.networks.*.driver_opts", NONE, Unsupported, "per-endpoint driver options are not supported yet; remove the key"),
    rule("services.*.networks.*.gw_priority", NONE, Unsupported, "gateway priority is not supported yet; remove the key"),
    rule("services.*.networks.*.interface_name", NONE, Unsupported, "naming the interface is not supported yet; remove the key"),
    rule("services.*.networks.*.link_local_ips", NONE, Unsupported, "link-local addresses are not supported yet; remove the key"),
    rule("services.*.volumes.[].type", &["bind", "volume", "tmpfs", "image"], Unsupported, "berth supports `bind`, `volume`, `tmpfs` and `image` mounts"),
    rule("services.*.volumes.[].consistency", NONE, Ignored, "mount consistency only matters to Docker Desktop; it has no effect on Linux"),
    rule("services.*.volumes.[].bind.recursive", &["enabled"], Unsupported, "only recursive bind mounts (`enabled`, the default) are supported"),
    rule("services.*.volumes.[].volume.labels", NONE, Unsupported, "labels on anonymous volumes are not supported yet; remove the key"),
    rule("services.*.volumes.[].image.subpath", NONE, Unsupported, "image mount subpaths are not supported yet; remove the key"),
    // Top-level resources.
    rule("networks.*.driver", &["bridge"], Unsupported, "berth only creates `bridge` networks (for host or no networking use `network_mode`)"),
    rule("networks.*.enable_ipv4", TRUE, Unsupported, "IPv6-only networks are not supported yet"),
    rule("networks.*.ipam.driver", &["default"], Unsupported, "only the `default` IPAM driver is supported"),
    rule("networks.*.ipam.options", NONE, Unsupported, "IPAM driver options are not supported; remove the key"),
    rule("volumes.*.driver", &["local"], Unsupported, "only the `local` volume driver is supported"),
    rule("secrets.*.driver", NONE, Ignored, SWARM),
    rule("secrets.*.driver_opts", NONE, Ignored, SWARM),
    rule("secrets.*.template_driver", NONE, Ignored, SWARM),
    rule("configs.*.template_driver", NONE, Ignored, SWARM),
    rule("models", NONE, Unsupported, "AI models are not supported; remove the key"),
];

/// Checks the merged tree against [`RULES`]: the first unsupported key is an error; ignored
/// keys come back as warnings.
pub fn check_tree(tree: &Value, positions: &Positions) -> Result<Vec<Warning>> {
    let mut warnings = Vec::new();
    for rule in RULES {
        let segments: Vec<&str> = rule.pattern.split('.').collect();
        let mut found = Vec::new();
        collect(tree, &segments, &String::new, &mut found);
        for (path, value) in found {
            let Some(shown) = setting(value) else {
                continue;
            };
            if rule.accepted.contains(&shown.as_str()) {
                continue;
            }
            // The key as users know it: the segments after the last wildcard.
            let tail = segments
                .iter()
                .rposition(|s| *s == "*" || *s == "[]")
                .map_or(&segments[..], |i| &segments[i + 1..]);
            let name = tail.join(".");
            let key = if rule.accepted.is_empty() {
                name
            } else {
                format!("{name}: {shown}")
            };
            match rule.kind {
                Unsupported => {
                    return Err(StackError::Unsupported {
                        at: positions.place(&path),
                        key,
                        message: rule.message.to_string(),
                    })
                }
                Ignored => warnings.push(Warning {
                    at: positions.place(&path),
                    message: format!("`{key}` is ignored: {}", rule.message),
                }),
            }
        }
    }
    Ok(warnings)
}

/// Every value at `segments` below `value`, with its key path.
fn collect<'a>(
    value: &'a Value,
    segments: &[&str],
    path: &dyn Fn() -> String,
    out: &mut Vec<(String, &'a Value)>,
) {
    let value = match value {
        Value::Tagged(t) => &t.value,
        v => v,
    };
    let Some((first, rest)) = segments.split_first() else {
        out.push((path(), value));
        return;
    };
    match (*first, value) {
        ("*", Value::Mapping(map)) => {
            for (key, child) in map {
                if let Some(key) = key.as_str() {
                    collect(child, rest, &|| join_key(&path(), key), out);
                }
            }
        }
        ("[]", Value::Sequence(items)) => {
            for (i, child) in items.iter().enumerate() {
                collect(child, rest, &|| join_index(&path(), i), out);
            }
        }
        (key, Value::Mapping(map)) => {
            if let Some(child) = map.get(key) {
                collect(child, rest, &|| join_key(&path(), key), out);
            }
        }
        _ => {}
    }
}

/// What a value sets, as text to compare with a rule's accepted values; `None` when it sets
/// nothing (`null`, an empty list or mapping).
fn setting(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(match parse_bool(s) {
            Some(b) => b.to_string(),
            None => s.clone(),
        }),
        Value::Sequence(items) if items.is_empty() => None,
        Value::Mapping(map) if map.is_empty() => None,
        Value::Sequence(_) | Value::Mapping(_) => Some("(settings)".to_string()),
        Value::Tagged(t) => setting(&t.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::SourceFile;

    fn check(yaml: &str) -> Result<Vec<Warning>> {
        let source = SourceFile::parse("compose.yaml", yaml).expect("test YAML parses");
        let mut positions = Positions::default();
        positions.push(source.positions);
        check_tree(&source.value, &positions)
    }

    fn unsupported(yaml: &str) -> (String, String, String) {
        match check(yaml) {
            Err(e @ StackError::Unsupported { .. }) => {
                let text = e.to_string();
                let StackError::Unsupported { at, key, .. } = e else {
                    unreachable!()
                };
                (at.path, key, text)
            }
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    #[test]
    fn unsupported_service_key_names_path_and_location() {
        let (path, key, text) = unsupported(
            "services:\n  web:\n    image: nginx\n    blkio_config:\n      weight: 300\n",
        );
        assert_eq!(path, "services.web.blkio_config");
        assert_eq!(key, "blkio_config");
        assert!(
            text.starts_with("compose.yaml:4:5: services.web.blkio_config"),
            "{text}"
        );
        assert!(text.contains("not supported by berth yet"), "{text}");
        for key in [
            "gpus: all",
            "runtime: runsc",
            "userns_mode: host",
            "cgroup: host",
            "uts: host",
        ] {
            let (path, ..) = unsupported(&format!("services:\n  web:\n    {key}\n"));
            assert_eq!(
                path,
                format!("services.web.{}", key.split(':').next().unwrap())
            );
        }
    }

    #[test]
    fn unsupported_values_name_the_value() {
        let (path, key, text) =
            unsupported("services:\n  web:\n    logging:\n      driver: syslog\n");
        assert_eq!(path, "services.web.logging.driver");
        assert_eq!(key, "logging.driver: syslog");
        assert!(text.contains("json-file"), "{text}");
        let (path, key, _) = unsupported("networks:\n  n:\n    driver: overlay\n");
        assert_eq!(
            (path.as_str(), key.as_str()),
            ("networks.n.driver", "driver: overlay")
        );
        let (path, ..) = unsupported("networks:\n  n:\n    ipam:\n      driver: dhcp\n");
        assert_eq!(path, "networks.n.ipam.driver");
        let (path, ..) = unsupported("volumes:\n  v:\n    driver: nfs\n");
        assert_eq!(path, "volumes.v.driver");
        let (path, ..) = unsupported("services:\n  web:\n    deploy:\n      mode: global\n");
        assert_eq!(path, "services.web.deploy.mode");
        let (path, ..) = unsupported(
            "services:\n  web:\n    deploy:\n      resources:\n        reservations:\n          \
             devices:\n            - capabilities: [gpu]\n",
        );
        assert_eq!(path, "services.web.deploy.resources.reservations.devices");
        let (path, ..) = unsupported(
            "services:\n  web:\n    volumes:\n      - type: cluster\n        target: /x\n",
        );
        assert_eq!(path, "services.web.volumes[0].type");
    }

    #[test]
    fn supported_values_and_harmless_defaults_pass() {
        let yaml = "services:\n  web:\n    image: nginx\n    attach: true\n    oom_kill_disable: 'false'\n    \
                    logging: {driver: local}\n    deploy: {mode: replicated}\n    gpus: []\n    develop:\n    \
                    volumes:\n      - {type: bind, source: /a, target: /b, bind: {recursive: enabled}}\n\
                    networks:\n  n: {driver: bridge, ipam: {driver: default}}\nvolumes:\n  v: {driver: local}\n";
        assert_eq!(check(yaml).unwrap(), vec![]);
        let (_, key, _) = unsupported("services:\n  web:\n    attach: false\n");
        assert_eq!(key, "attach: false");
    }

    #[test]
    fn swarm_only_keys_warn() {
        let warnings = check(
            "services:\n  web:\n    deploy:\n      placement:\n        constraints: [node.role==manager]\n      \
             update_config: {parallelism: 2}\n      endpoint_mode: vip\n      labels: {a: b}\n\
             secrets:\n  s:\n    file: ./s\n    template_driver: golang\n",
        )
        .unwrap();
        let paths: Vec<&str> = warnings.iter().map(|w| w.at.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "services.web.deploy.placement",
                "services.web.deploy.update_config",
                "services.web.deploy.endpoint_mode",
                "services.web.deploy.labels",
                "secrets.s.template_driver",
            ]
        );
        let text = warnings[0].to_string();
        assert!(
            text.contains("compose.yaml:4:7") && text.contains("Swarm"),
            "{text}"
        );
    }

    #[test]
    fn odd_shapes_are_left_to_typing() {
        assert!(check("services: []\nnetworks: 3\n").unwrap().is_empty());
        assert!(
            check("services:\n  web:\n    build: ./app\n    networks: [a]\n")
                .unwrap()
                .is_empty()
        );
    }
}
