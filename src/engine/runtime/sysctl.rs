//! The spec's `linux.sysctl`: only keys the kernel namespaces are accepted (IPC keys with an
//! IPC namespace, `net.*` with a network namespace that is not the host's, the domain name
//! with a UTS namespace), so a container never writes the host's /proc/sys. A network
//! namespace joined by path is the host's when it is the one berth runs in or PID 1's (the
//! caller decides; `--network container:X` where X uses the host's network is one). They are written
//! through the container's own /proc after pivot_root, before /proc/sys turns read-only.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

const IPC_KEYS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The namespace a key belongs to, or `None` for keys the kernel does not namespace.
fn namespace_of(key: &str) -> Option<LinuxNamespaceType> {
    if IPC_KEYS.contains(&key) || key.starts_with("fs.mqueue.") {
        Some(LinuxNamespaceType::Ipc)
    } else if key.starts_with("net.") {
        Some(LinuxNamespaceType::Network)
    } else if key == "kernel.domainname" {
        Some(LinuxNamespaceType::Uts)
    } else {
        None
    }
}

/// The /proc/sys path of a key (`net.ipv4.ip_forward` -> `/proc/sys/net/ipv4/ip_forward`).
fn proc_path(key: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = key.split('.').collect();
    let rel = PathBuf::from(parts.join("/"));
    let plain = parts.iter().all(|p| !p.is_empty() && !p.contains('/'))
        && rel.components().all(|c| matches!(c, Component::Normal(_)));
    plain.then(|| Path::new("/proc/sys").join(rel))
}

/// Checks every key; `host_net` tells whether a network namespace given by path is the
/// host's own.
pub fn validate(spec: &Spec, host_net: &dyn Fn(&Path) -> bool) -> Result<(), String> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let Some(sysctl) = linux.sysctl() else {
        return Ok(());
    };
    let namespaces = linux.namespaces().clone().unwrap_or_default();
    for key in sysctl.keys() {
        let own = |t: LinuxNamespaceType| {
            namespaces.iter().find(|n| n.typ() == t).is_some_and(|n| {
                !(t == LinuxNamespaceType::Network && n.path().as_deref().is_some_and(host_net))
            })
        };
        let ok = proc_path(key).is_some() && namespace_of(key).is_some_and(own);
        if !ok {
            let why = match namespace_of(key) {
                None => "the kernel does not namespace it, so it would change the host".to_string(),
                Some(t) => format!("the container has no {t:?} namespace of its own"),
            };
            return Err(format!("sysctl `{key}` is not allowed: {why}"));
        }
    }
    Ok(())
}

/// Writes the sysctls (inside the container, through its /proc).
pub fn apply(sysctl: &HashMap<String, String>) -> Result<(), String> {
    for (key, value) in sysctl {
        let path = proc_path(key).ok_or_else(|| format!("sysctl `{key}` is not a valid key"))?;
        std::fs::write(&path, value).map_err(|e| format!("sysctl {key}={value}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(sysctl: serde_json::Value, namespaces: serde_json::Value) -> Spec {
        let mut v = serde_json::to_value(super::super::spec::default_spec()).unwrap();
        v["linux"]["sysctl"] = sysctl;
        v["linux"]["namespaces"] = namespaces;
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn only_namespaced_keys() {
        let all = serde_json::json!([{"type":"ipc"},{"type":"network"},{"type":"uts"}]);
        let no = |_: &Path| false;
        for ok in [
            "kernel.shmmax",
            "fs.mqueue.msg_max",
            "net.ipv4.ip_forward",
            "kernel.domainname",
        ] {
            validate(&spec(serde_json::json!({ok: "1"}), all.clone()), &no).unwrap();
        }
        for bad in ["kernel.panic", "vm.swappiness", "net..x", "kernel.hostname"] {
            let e = validate(&spec(serde_json::json!({bad: "1"}), all.clone()), &no).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
        let ipc_only = serde_json::json!([{"type":"ipc"}]);
        let e = validate(
            &spec(serde_json::json!({"net.core.somaxconn": "1"}), ipc_only),
            &no,
        )
        .unwrap_err();
        assert!(e.contains("Network"), "{e}");
        let host = serde_json::json!([{"type":"network","path":"/proc/1/ns/net"}]);
        let e = validate(
            &spec(serde_json::json!({"net.core.somaxconn": "1"}), host),
            &|_| true,
        )
        .unwrap_err();
        assert!(e.contains("net.core.somaxconn"), "{e}");
        assert_eq!(
            proc_path("net.ipv4.ip_forward").unwrap(),
            Path::new("/proc/sys/net/ipv4/ip_forward")
        );
    }
}
