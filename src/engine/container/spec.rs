//! The OCI runtime spec of a container: Docker's defaults (the runtime's default spec) with the
//! container's settings applied: command, environment, user (resolved in the image's
//! /etc/passwd and /etc/group through the safe resolver), limits, capabilities, privileged,
//! tmpfs, /dev/shm size, sysctls, devices, security options, the network mode and the files
//! berth provides (/etc/hostname, /etc/hosts, /etc/resolv.conf).

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde_json::{json, Value};

use super::config::ContainerConfig;
use super::ContainerError;
use crate::engine::runtime::process::{cap_name, cap_number};

/// Where a static init for `--init` may be found on the host.
const INIT_CANDIDATES: [&str; 4] = [
    "/usr/bin/tini-static",
    "/usr/bin/catatonit",
    "/usr/libexec/podman/catatonit",
    "/usr/local/bin/tini-static",
];

/// The path of the init binary inside the container (Docker's).
pub const INIT_PATH: &str = "/sbin/docker-init";

fn invalid(message: impl Into<String>) -> ContainerError {
    ContainerError::Invalid(message.into())
}

/// Reads a file of the image's root filesystem, resolved inside it.
fn read_in_root(rootfs: &Path, path: &str) -> Option<String> {
    crate::engine::runtime::inroot::read_file(rootfs, Path::new(path))
}

/// (uid, gid, additional gids) for `user` (`name|uid[:group|gid]`) and `group_add`.
pub fn resolve_user(
    rootfs: &Path,
    user: &str,
    group_add: &[String],
) -> Result<(u32, u32, Vec<u32>), ContainerError> {
    let passwd = read_in_root(rootfs, "etc/passwd").unwrap_or_default();
    let group = read_in_root(rootfs, "etc/group").unwrap_or_default();
    let fields = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split(':').map(String::from).collect())
            .collect()
    };
    let (passwd, group) = (fields(&passwd), fields(&group));
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let u = if u.is_empty() { "0" } else { u };
    let entry = passwd.iter().find(|f| {
        f.first().map(String::as_str) == Some(u) || f.get(2).map(String::as_str) == Some(u)
    });
    let uid: u32 = match (u.parse::<u32>(), entry) {
        (Ok(n), _) => n,
        (Err(_), Some(f)) => f.get(2).and_then(|s| s.parse().ok()).unwrap_or(0),
        (Err(_), None) => {
            return Err(invalid(format!(
                "unable to find user {u}: no matching entries in the image's /etc/passwd"
            )))
        }
    };
    let find_group = |g: &str| -> Result<u32, ContainerError> {
        if let Ok(n) = g.parse::<u32>() {
            return Ok(n);
        }
        group
            .iter()
            .find(|f| f.first().map(String::as_str) == Some(g))
            .and_then(|f| f.get(2)?.parse().ok())
            .ok_or_else(|| {
                invalid(format!(
                    "unable to find group {g}: no matching entries in the image's /etc/group"
                ))
            })
    };
    let gid = match g {
        Some(g) => find_group(g)?,
        None => entry.and_then(|f| f.get(3)?.parse().ok()).unwrap_or(0),
    };
    let name = entry.and_then(|f| f.first().cloned());
    let mut extra: Vec<u32> = match (&name, g) {
        (Some(name), None) => group
            .iter()
            .filter(|f| {
                f.get(3)
                    .is_some_and(|members| members.split(',').any(|m| m == name))
            })
            .filter_map(|f| f.get(2)?.parse().ok())
            .collect(),
        _ => Vec::new(),
    };
    for g in group_add {
        extra.push(find_group(g)?);
    }
    extra.retain(|g| *g != gid);
    extra.sort_unstable();
    extra.dedup();
    Ok((uid, gid, extra))
}

fn caps_of(cfg: &ContainerConfig, defaults: &Value) -> Result<Vec<String>, ContainerError> {
    let all: Vec<String> = (0..41)
        .filter_map(|n| cap_name(n).map(|c| format!("CAP_{c}")))
        .collect();
    if cfg.host.privileged {
        return Ok(all);
    }
    let norm = |c: &str| -> Result<String, ContainerError> {
        let up = c.to_ascii_uppercase();
        let up = up.strip_prefix("CAP_").unwrap_or(&up).to_string();
        if up == "ALL" {
            return Ok(up);
        }
        cap_number(&up)
            .map(|_| format!("CAP_{up}"))
            .ok_or_else(|| invalid(format!("unknown capability `{c}`")))
    };
    let mut caps: Vec<String> = defaults
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for c in &cfg.host.cap_drop {
        match norm(c)?.as_str() {
            "ALL" => caps.clear(),
            c => caps.retain(|x| x != c),
        }
    }
    for c in &cfg.host.cap_add {
        match norm(c)?.as_str() {
            "ALL" => caps = all.clone(),
            c if !caps.iter().any(|x| x == c) => caps.push(c.to_string()),
            _ => {}
        }
    }
    Ok(caps)
}

/// `/dev/host[:/dev/container[:rwm]]`: (host path, container path, access).
fn parse_device(d: &str) -> Result<(PathBuf, String, String), ContainerError> {
    let parts: Vec<&str> = d.split(':').collect();
    let (host, inner, access) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, c] if c.chars().all(|x| "rwm".contains(x)) => (*h, *h, *c),
        [h, c] => (*h, *c, "rwm"),
        [h, c, a] => (*h, *c, *a),
        _ => {
            return Err(invalid(format!(
                "--device `{d}`: use HOST[:CONTAINER[:rwm]]"
            )))
        }
    };
    Ok((PathBuf::from(host), inner.to_string(), access.to_string()))
}

/// Finds a static init binary for `--init`.
pub fn find_init() -> Result<PathBuf, ContainerError> {
    INIT_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            invalid(
                "--init needs a static init on the host: install Debian's tini package \
                 (tini-static) or catatonit",
            )
        })
}

/// The spec for container `id` whose root filesystem is mounted at `rootfs`; `files` holds
/// the hostname/hosts/resolv.conf files berth writes for it.
pub fn build(
    cfg: &ContainerConfig,
    id: &str,
    rootfs: &Path,
    files: &Path,
    sources: &std::collections::BTreeMap<String, std::path::PathBuf>,
) -> Result<Spec, ContainerError> {
    let mut s = serde_json::to_value(crate::engine::runtime::spec::default_spec())
        .expect("the default spec serialises");
    let mut args: Vec<String> = cfg.entrypoint.iter().chain(&cfg.cmd).cloned().collect();
    if args.is_empty() {
        return Err(invalid(
            "no command: the image has no Cmd or Entrypoint; give one after the image name",
        ));
    }
    if cfg.host.init {
        let mut with_init = vec![INIT_PATH.to_string(), "--".to_string()];
        with_init.append(&mut args);
        args = with_init;
    }
    let (uid, gid, extra) = resolve_user(rootfs, &cfg.user, &cfg.group_add)?;
    let hostname = if cfg.hostname.is_empty() {
        id[..12].to_string()
    } else {
        cfg.hostname.clone()
    };
    let mut env = cfg.env.clone();
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!("HOSTNAME={hostname}"));
    }
    if cfg.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    s["root"] = json!({"path": rootfs, "readonly": cfg.host.readonly_rootfs});
    s["hostname"] = json!(hostname);
    let p = &mut s["process"];
    p["args"] = json!(args);
    p["env"] = json!(env);
    p["cwd"] = json!(if cfg.working_dir.is_empty() {
        "/"
    } else {
        &cfg.working_dir
    });
    p["terminal"] = json!(cfg.tty);
    p["user"] = json!({"uid": uid, "gid": gid, "additionalGids": extra});
    let caps = caps_of(cfg, &p["capabilities"]["bounding"])?;
    for set in ["bounding", "effective", "permitted"] {
        p["capabilities"][set] = json!(caps);
    }
    // Mounts: /dev/shm's size, the files berth writes, tmpfs, the init binary.
    let mounts = s["mounts"].as_array_mut().expect("default mounts");
    let shm = if cfg.host.shm_size > 0 {
        cfg.host.shm_size
    } else {
        64 << 20
    };
    for m in mounts.iter_mut() {
        if m["destination"] == "/dev/shm" {
            m["options"] = json!([
                "nosuid",
                "noexec",
                "nodev",
                "mode=1777",
                format!("size={shm}")
            ]);
        }
        if m["destination"] == "/sys" && cfg.host.privileged {
            m["options"] = json!(["nosuid", "noexec", "nodev"]);
        }
    }
    // The user's mounts, parents before what is mounted below them.
    let mut own: Vec<(String, serde_json::Value)> = Vec::new();
    for p in &cfg.mount_points {
        let source = sources.get(&p.destination).cloned().unwrap_or_default();
        own.push((p.destination.clone(), super::mounts::spec_mount(p, &source)));
    }
    for (dest, opts) in &cfg.host.tmpfs {
        let m = super::mounts::tmpfs_spec_mount(dest, opts)?;
        let destination = m["destination"].as_str().unwrap_or_default().to_string();
        own.push((destination, m));
    }
    for (name, dest) in [
        ("hostname", "/etc/hostname"),
        ("hosts", "/etc/hosts"),
        ("resolv.conf", "/etc/resolv.conf"),
    ] {
        // A file the user mounts there wins over berth's.
        if !own.iter().any(|(d, _)| d == dest) {
            own.push((
                dest.to_string(),
                json!({"destination": dest, "type": "bind", "source": files.join(name),
                       "options": ["rbind", "rprivate"]}),
            ));
        }
    }
    own.sort_by_key(|(dest, _)| Path::new(dest).components().count());
    mounts.extend(own.into_iter().map(|(_, m)| m));
    if cfg.host.init {
        mounts.push(
            json!({"destination": INIT_PATH, "type": "bind", "source": find_init()?,
                           "options": ["bind", "ro", "nosuid", "nodev"]}),
        );
    }
    let linux = &mut s["linux"];
    if cfg.host.network_mode == "host" {
        let ns = linux["namespaces"].as_array_mut().expect("namespaces");
        ns.retain(|n| n["type"] != "network");
    }
    let mut resources = json!({});
    if cfg.host.memory > 0 {
        resources["memory"] = json!({"limit": cfg.host.memory, "swap": cfg.host.memory * 2});
    }
    if cfg.host.nano_cpus > 0 {
        resources["cpu"] = json!({"quota": cfg.host.nano_cpus / 10_000, "period": 100_000});
    }
    if cfg.host.pids_limit > 0 {
        resources["pids"] = json!({"limit": cfg.host.pids_limit});
    }
    let mut devices = Vec::new();
    let mut allow = Vec::new();
    if cfg.host.privileged {
        allow.push(json!({"allow": true, "access": "rwm"}));
        linux["maskedPaths"] = json!([]);
        linux["readonlyPaths"] = json!([]);
        linux["seccomp"] = Value::Null;
    }
    for d in &cfg.host.devices {
        let (host, inner, access) = parse_device(d)?;
        let md = std::fs::metadata(&host)
            .map_err(|e| invalid(format!("--device {}: {e}", host.display())))?;
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let kind = if md.file_type().is_char_device() {
            "c"
        } else if md.file_type().is_block_device() {
            "b"
        } else {
            return Err(invalid(format!(
                "--device {}: not a device node",
                host.display()
            )));
        };
        let (major, minor) = (rustix::fs::major(md.rdev()), rustix::fs::minor(md.rdev()));
        devices.push(
            json!({"path": inner, "type": kind, "major": major, "minor": minor,
                            "fileMode": md.mode() & 0o777, "uid": 0, "gid": 0}),
        );
        allow.push(
            json!({"allow": true, "type": kind, "major": major, "minor": minor, "access": access}),
        );
    }
    if !allow.is_empty() {
        resources["devices"] = json!(allow);
    }
    linux["resources"] = resources;
    if !devices.is_empty() {
        linux["devices"] = json!(devices);
    }
    if !cfg.host.sysctls.is_empty() {
        linux["sysctl"] = json!(cfg.host.sysctls);
    }
    for opt in &cfg.host.security_opt {
        let (k, v) = opt.split_once(['=', ':']).unwrap_or((opt.as_str(), ""));
        match (k, v) {
            ("no-new-privileges", "" | "true") => s["process"]["noNewPrivileges"] = json!(true),
            ("no-new-privileges", "false") => s["process"]["noNewPrivileges"] = json!(false),
            ("seccomp", "unconfined") => s["linux"]["seccomp"] = Value::Null,
            ("seccomp", path) => {
                // Docker's format, its conditions evaluated for this container's capabilities.
                let caps: Vec<String> =
                    serde_json::from_value(s["process"]["capabilities"]["bounding"].clone())
                        .unwrap_or_default();
                let profile = crate::engine::runtime::seccomp::load_file(Path::new(path), &caps)
                    .map_err(|e| invalid(format!("--security-opt seccomp={path}: {e}")))?;
                s["linux"]["seccomp"] = serde_json::to_value(profile).expect("a profile");
            }
            ("apparmor", _) | ("label", "disable") => {
                // This engine applies no LSM profile (hosts without AppArmor/SELinux).
            }
            _ => {
                return Err(invalid(format!(
                    "--security-opt `{opt}` is not supported (use no-new-privileges, \
                     seccomp=unconfined|FILE)"
                )))
            }
        }
    }
    if s["linux"]["seccomp"].is_null() {
        s["linux"].as_object_mut().expect("linux").remove("seccomp");
    }
    serde_json::from_value(s).map_err(|e| invalid(format!("the container's runtime spec: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_resolve_in_the_image() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("etc")).unwrap();
        std::fs::write(
            tmp.path().join("etc/passwd"),
            "root:x:0:0::/:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            tmp.path().join("etc/group"),
            "root:x:0:\napp:x:1000:\naudio:x:29:app\nvideo:x:44:\n",
        )
        .unwrap();
        assert_eq!(resolve_user(tmp.path(), "", &[]).unwrap(), (0, 0, vec![]));
        assert_eq!(
            resolve_user(tmp.path(), "app", &[]).unwrap(),
            (1000, 1000, vec![29])
        );
        assert_eq!(
            resolve_user(tmp.path(), "app:video", &["audio".into()]).unwrap(),
            (1000, 44, vec![29])
        );
        assert_eq!(
            resolve_user(tmp.path(), "4242:4243", &[]).unwrap(),
            (4242, 4243, vec![])
        );
        let e = resolve_user(tmp.path(), "ghost", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unable to find user ghost"), "{e}");
    }

    #[test]
    fn settings_reach_the_spec() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = ContainerConfig {
            cmd: vec!["sh".into()],
            ..Default::default()
        };
        cfg.host.memory = 64 << 20;
        cfg.host.nano_cpus = 500_000_000;
        cfg.host.cap_drop = vec!["NET_RAW".into()];
        cfg.host.cap_add = vec!["sys_ptrace".into()];
        cfg.host.tmpfs.insert("/run".into(), "size=1m".into());
        cfg.host.security_opt = vec!["no-new-privileges".into()];
        let id = "0123456789abcdef".repeat(4);
        let spec = build(&cfg, &id, tmp.path(), tmp.path(), &Default::default()).unwrap();
        let v = serde_json::to_value(&spec).unwrap();
        assert_eq!(v["hostname"], "0123456789ab");
        assert_eq!(v["linux"]["resources"]["memory"]["limit"], 64 << 20);
        assert_eq!(v["linux"]["resources"]["cpu"]["quota"], 50_000);
        let caps = v["process"]["capabilities"]["bounding"].as_array().unwrap();
        assert!(caps.contains(&json!("CAP_SYS_PTRACE")) && !caps.contains(&json!("CAP_NET_RAW")));
        assert_eq!(v["process"]["noNewPrivileges"], true);
        assert!(v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["destination"] == "/run"));
        cfg.host.security_opt = vec!["label=user:x".into()];
        assert!(build(&cfg, &id, tmp.path(), tmp.path(), &Default::default()).is_err());
        cfg.cmd.clear();
        assert!(
            build(&cfg, &id, tmp.path(), tmp.path(), &Default::default())
                .unwrap_err()
                .to_string()
                .contains("no command")
        );
    }
}
