//! A container's mounts: what the user asks for (Docker's `HostConfig.Mounts` shape, which
//! `-v`, `--mount`, and compose's volumes all become), resolved at create into mount points
//! (named and anonymous volumes made, image VOLUMEs given anonymous volumes, `--volumes-from`
//! copied), and at each start into the sources the runtime binds. Destinations are cleaned
//! and never in the kernel's /proc or /sys, for every kind (`--tmpfs` too); a tmpfs takes
//! tmpfs's own options only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ContainerError;

/// One mount as the user asked for it (Docker's `Mount` type).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type")]
    pub typ: String,
    /// A host path (bind), a volume name (empty: anonymous), nothing for tmpfs.
    pub source: String,
    pub target: String,
    pub read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct BindOptions {
    /// `rprivate` (default), `private`, `rshared`, `shared`, `rslave`, `slave`.
    pub propagation: String,
    /// Bind only this mount, not the mounts below it.
    pub non_recursive: bool,
    /// Create the host directory when missing (`-v` does; `--mount` does not).
    pub create_mountpoint: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeOptions {
    /// Do not fill the volume from the image.
    pub no_copy: bool,
    /// Labels and local driver options for a volume this creates.
    pub labels: BTreeMap<String, String>,
    pub driver_options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    /// Bytes; 0 = the kernel's default (half the memory).
    pub size_bytes: i64,
    /// Permission bits; 0 = 1777.
    pub mode: u32,
}

/// One resolved mount of a container (Docker's MountPoint, plus what berth needs to set it up
/// at each start).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountPoint {
    #[serde(rename = "Type")]
    pub typ: String,
    /// The volume's name (volumes only).
    pub name: String,
    /// The host path (binds only; a volume's is looked up at start).
    pub source: String,
    pub destination: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
    pub non_recursive: bool,
    pub create_source: bool,
    pub no_copy: bool,
    /// An anonymous volume made for this container (`rm -v` removes it).
    pub anonymous: bool,
    pub tmpfs: TmpfsOptions,
}

pub(crate) fn invalid(msg: String) -> ContainerError {
    ContainerError::Invalid(msg)
}

/// The lexically cleaned absolute container path of a mount, refusing relative targets, `/`,
/// and the kernel's /proc and /sys ([`crate::mount_rules`]).
pub fn clean_destination(target: &str) -> Result<String, ContainerError> {
    crate::mount_rules::mount_target(target)
        .map_err(|e| invalid(format!("mount target `{target}`: {e}")))
}

/// The options of `--tmpfs DEST:OPTIONS`, checked: only tmpfs's own (size, mode, uid, gid,
/// nr_inodes, nr_blocks, mpol) and the mount flags that fit a tmpfs ([`crate::mount_rules`]).
pub fn tmpfs_options(dest: &str, options: &str) -> Result<Vec<String>, ContainerError> {
    crate::mount_rules::tmpfs_options(options).map_err(|e| invalid(format!("--tmpfs {dest}: {e}")))
}

/// `--tmpfs` mounts made definite at create: destinations cleaned and checked (not /proc or
/// /sys, however spelled), options checked, each destination once.
pub fn resolve_tmpfs(
    tmpfs: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ContainerError> {
    let mut out = BTreeMap::new();
    for (dest, options) in tmpfs {
        let clean = clean_destination(dest).map_err(|e| invalid(format!("--tmpfs {dest}: {e}")))?;
        tmpfs_options(dest, options)?;
        if out.insert(clean.clone(), options.clone()).is_some() {
            return Err(invalid(format!("duplicate mount point: {clean}")));
        }
    }
    Ok(out)
}

/// The runtime spec's mount for `--tmpfs DEST:OPTIONS`: Docker's nosuid, nodev, noexec,
/// then the user's options (checked again: the record may predate the checks).
pub fn tmpfs_spec_mount(dest: &str, options: &str) -> Result<serde_json::Value, ContainerError> {
    let destination =
        clean_destination(dest).map_err(|e| invalid(format!("--tmpfs {dest}: {e}")))?;
    let mut all: Vec<String> = ["nosuid", "nodev", "noexec"].map(String::from).into();
    all.extend(tmpfs_options(dest, options)?);
    Ok(
        serde_json::json!({"destination": destination, "type": "tmpfs", "source": "tmpfs",
                          "options": all}),
    )
}

const PROPAGATIONS: [&str; 6] = [
    "rprivate", "private", "rshared", "shared", "rslave", "slave",
];

/// The mount point of one request, without touching volumes (the caller makes them).
pub fn point_of(m: &Mount) -> Result<MountPoint, ContainerError> {
    let destination = clean_destination(&m.target)?;
    let mut p = MountPoint {
        typ: m.typ.clone(),
        destination,
        rw: !m.read_only,
        ..Default::default()
    };
    if m.typ != "tmpfs" && m.tmpfs_options.is_some() {
        return Err(invalid(format!(
            "{} mount on {}: tmpfs options apply to tmpfs mounts only",
            m.typ, m.target
        )));
    }
    match m.typ.as_str() {
        "bind" => {
            if !m.source.starts_with('/') {
                return Err(invalid(format!(
                    "bind mount of `{}`: the source must be an absolute host path",
                    m.source
                )));
            }
            let b = m.bind_options.clone().unwrap_or_default();
            p.propagation = if b.propagation.is_empty() {
                "rprivate".into()
            } else if PROPAGATIONS.contains(&b.propagation.as_str()) {
                b.propagation.clone()
            } else {
                return Err(invalid(format!(
                    "bind propagation `{}`: use one of {}",
                    b.propagation,
                    PROPAGATIONS.join(", ")
                )));
            };
            p.non_recursive = b.non_recursive;
            p.create_source = b.create_mountpoint;
            if !p.create_source && !Path::new(&m.source).exists() {
                return Err(invalid(format!(
                    "bind source path does not exist: {} (create it, or use -v which creates it)",
                    m.source
                )));
            }
            p.source = m.source.clone();
        }
        "volume" => {
            if !m.source.is_empty() {
                crate::engine::volume::check_name(&m.source)
                    .map_err(|e| invalid(format!("mount of {}: {e}", m.target)))?;
            }
            p.name = m.source.clone();
            p.no_copy = m.volume_options.as_ref().is_some_and(|o| o.no_copy);
        }
        "tmpfs" => {
            if m.bind_options.is_some() || m.volume_options.is_some() {
                return Err(invalid(format!(
                    "tmpfs mount on {}: bind and volume options do not apply to a tmpfs; \
                     use tmpfs-size and tmpfs-mode",
                    m.target
                )));
            }
            if !m.source.is_empty() {
                return Err(invalid(format!(
                    "tmpfs mount on {}: a tmpfs has no source (got `{}`)",
                    m.target, m.source
                )));
            }
            p.tmpfs = m.tmpfs_options.clone().unwrap_or_default();
            if p.tmpfs.size_bytes < 0 || p.tmpfs.mode > 0o7777 {
                return Err(invalid(format!(
                    "tmpfs mount on {}: size {} or mode {:o} out of range (mode is at most 7777)",
                    m.target, p.tmpfs.size_bytes, p.tmpfs.mode
                )));
            }
        }
        other => {
            return Err(invalid(format!(
                "mount type `{other}` on {}: use bind, volume or tmpfs",
                m.target
            )))
        }
    }
    Ok(p)
}

/// `C[:ro|rw]` of `--volumes-from`: the container and the mode override.
pub fn parse_volumes_from(spec: &str) -> Result<(&str, Option<bool>), ContainerError> {
    match spec.rsplit_once(':') {
        Some((c, "ro")) => Ok((c, Some(false))),
        Some((c, "rw")) => Ok((c, Some(true))),
        Some((_, mode)) => Err(invalid(format!(
            "--volumes-from {spec}: unknown mode `{mode}`; use ro or rw"
        ))),
        None => Ok((spec, None)),
    }
}

/// The runtime spec's mount for a resolved point; `source` is the host path to bind
/// (binds and volumes).
pub fn spec_mount(p: &MountPoint, source: &Path) -> serde_json::Value {
    if p.typ == "tmpfs" {
        let mut options: Vec<String> = ["nosuid", "nodev", "noexec"].map(String::from).into();
        if p.tmpfs.size_bytes > 0 {
            options.push(format!("size={}", p.tmpfs.size_bytes));
        }
        options.push(format!(
            "mode={:o}",
            if p.tmpfs.mode == 0 {
                0o1777
            } else {
                p.tmpfs.mode
            }
        ));
        if !p.rw {
            options.push("ro".into());
        }
        return serde_json::json!({"destination": p.destination, "type": "tmpfs",
                                  "source": "tmpfs", "options": options});
    }
    let mut options = vec![if p.non_recursive { "bind" } else { "rbind" }.to_string()];
    options.push(if p.rw { "rw" } else { "ro" }.into());
    options.push(if p.propagation.is_empty() {
        "rprivate".into()
    } else {
        p.propagation.clone()
    });
    serde_json::json!({"destination": p.destination, "type": "bind", "source": source,
                       "options": options})
}

/// Docker's `Mounts` entry of `inspect`.
pub fn inspect_entry(p: &MountPoint, volume_path: Option<PathBuf>) -> serde_json::Value {
    let mut v = serde_json::json!({
        "Type": p.typ,
        "Source": volume_path.map(|s| s.display().to_string()).unwrap_or_else(|| p.source.clone()),
        "Destination": p.destination,
        "Mode": if p.rw { "" } else { "ro" },
        "RW": p.rw,
        "Propagation": p.propagation,
    });
    if p.typ == "volume" {
        v["Name"] = serde_json::json!(p.name);
        v["Driver"] = serde_json::json!("local");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(source: &str, target: &str) -> Mount {
        Mount {
            typ: "bind".into(),
            source: source.into(),
            target: target.into(),
            ..Default::default()
        }
    }

    #[test]
    fn destinations_are_cleaned_and_kernel_paths_refused() {
        assert_eq!(clean_destination("/data//x/./y/../z").unwrap(), "/data/x/z");
        for bad in ["data", "/", "/proc", "/proc/sys", "/sys/fs", "/a/../proc/x"] {
            assert!(clean_destination(bad).is_err(), "{bad}");
        }
        assert_eq!(clean_destination("/process").unwrap(), "/process");
    }

    #[test]
    fn binds_volumes_and_tmpfs() {
        let p = point_of(&bind("/tmp", "/data")).unwrap();
        assert_eq!((p.rw, p.propagation.as_str()), (true, "rprivate"));
        let e = point_of(&bind("/no/such/dir/here", "/data")).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let mut m = bind("/no/such/dir/here", "/data");
        m.bind_options = Some(BindOptions {
            create_mountpoint: true,
            ..Default::default()
        });
        assert!(point_of(&m).unwrap().create_source);
        assert!(point_of(&bind("rel", "/data")).is_err());
        let v = point_of(&Mount {
            typ: "volume".into(),
            source: "bad/name".into(),
            target: "/d".into(),
            ..Default::default()
        });
        assert!(v.unwrap_err().to_string().contains("bad/name"));
        let t = point_of(&Mount {
            typ: "tmpfs".into(),
            target: "/run".into(),
            tmpfs_options: Some(TmpfsOptions {
                size_bytes: 1 << 20,
                mode: 0o700,
            }),
            ..Default::default()
        })
        .unwrap();
        let s = spec_mount(&t, Path::new(""));
        assert_eq!(
            s["options"],
            serde_json::json!(["nosuid", "nodev", "noexec", "size=1048576", "mode=700"])
        );
        assert!(point_of(&Mount {
            typ: "npipe".into(),
            target: "/x".into(),
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn volumes_from_modes() {
        assert_eq!(parse_volumes_from("db").unwrap(), ("db", None));
        assert_eq!(parse_volumes_from("db:ro").unwrap(), ("db", Some(false)));
        assert!(parse_volumes_from("db:rx").is_err());
    }
}
