//! Volumes: named and anonymous data directories under `<root>/volumes/<name>/_data` that
//! outlive containers. The local driver's options make a volume a bind of a host directory
//! (`type=none,o=bind,device=/path`) or a tmpfs (`type=tmpfs,o=size=64m`). A volume is
//! filled once from the image's content at its first mount point ([`copy`]), but never
//! while something that could change its directory meanwhile has it mounted: a container
//! writing to it could swap a directory of it for a symlink to a host path during the copy.
//! [`Volumes::populate`] asks the caller who that is, under an engine-wide lock that starts
//! with writable mounts hold shared until their container runs ([`Volumes::hold_mounts`]);
//! when someone is, the volume stays as it is (Docker would copy) and a later start fills
//! it. The engine's container service decides who uses a volume; this module knows nothing
//! of containers.

pub mod copy;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;
use thiserror::Error;

use crate::engine::state::{Db, StateError, VolumeRow};

#[derive(Debug, Error)]
pub enum VolumeError {
    #[error(
        "`{0}` is not a valid volume name: use letters, digits, `_`, `.` and `-`, starting \
         with a letter or digit"
    )]
    InvalidName(String),
    #[error("no such volume: {0}")]
    NotFound(String),
    #[error("volume option {option}: {message}")]
    BadOption { option: String, message: String },
    #[error(
        "volume {name} already exists with other options ({existing}): remove it first or \
         use it as it is"
    )]
    Conflict { name: String, existing: String },
    #[error("volume {name} is in use by {}: {hint}", users.join(", "))]
    InUse {
        name: String,
        users: Vec<String>,
        hint: &'static str,
    },
    #[error("volume {name}: {}: {source}", path.display())]
    Io {
        name: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("volume {name}: filling it from the image's {dest}: {message}")]
    CopyUp {
        name: String,
        dest: String,
        message: String,
    },
    #[error(transparent)]
    State(#[from] StateError),
}

pub type Result<T> = std::result::Result<T, VolumeError>;

/// What [`Volumes::populate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fill {
    /// Filled before: nothing to do.
    Before,
    /// Filled now (`copied`: the image had a directory there and the volume was empty).
    Now { copied: bool },
    /// Left as it is: these have its directory mounted writable.
    Deferred(Vec<String>),
}

/// The shared side of the fill lock, held by a start with writable mounts from the time
/// their sources are ready until its container runs: no volume is filled meanwhile, so a
/// fill never runs beside a container that is about to mount the same directory.
#[derive(Debug)]
pub struct MountsHeld {
    _lock: std::fs::File,
}

/// The label Docker puts on anonymous volumes.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, as Docker's local driver.
pub fn check_name(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 255
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(VolumeError::InvalidName(name.to_string()))
    }
}

/// What the local driver's options make of a volume.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A directory under the state root.
    Plain,
    /// A host directory bound in place of the volume's own (`type=none,o=bind,device=...`).
    Bind(PathBuf),
    /// A tmpfs mounted on the volume's directory at first use, with these mount options.
    Tmpfs(String),
}

const TMPFS_OPTIONS: [&str; 6] = ["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks"];

/// Checks the local driver's options (`type`, `o`, `device`).
pub fn kind_of(options: &BTreeMap<String, String>) -> Result<Kind> {
    let bad = |option: &str, message: &str| VolumeError::BadOption {
        option: option.to_string(),
        message: message.to_string(),
    };
    if let Some(k) = options
        .keys()
        .find(|k| !matches!(k.as_str(), "type" | "o" | "device"))
    {
        return Err(bad(k, "unknown: the local driver takes type, o and device"));
    }
    let typ = options.get("type").map(String::as_str).unwrap_or("");
    let o = options.get("o").map(String::as_str).unwrap_or("");
    let device = options.get("device").map(String::as_str).unwrap_or("");
    match typ {
        "" if o.is_empty() && device.is_empty() => Ok(Kind::Plain),
        "tmpfs" => {
            for opt in o.split(',').filter(|x| !x.is_empty()) {
                let key = opt.split('=').next().unwrap_or(opt);
                if !TMPFS_OPTIONS.contains(&key) {
                    return Err(bad(
                        &format!("o={opt}"),
                        "a tmpfs volume takes size, mode, uid, gid, nr_inodes and nr_blocks",
                    ));
                }
            }
            Ok(Kind::Tmpfs(o.to_string()))
        }
        "none" | "" => {
            if !o.split(',').any(|x| x == "bind" || x == "rbind") {
                return Err(bad(
                    &format!("o={o}"),
                    "with type=none, o must include bind (type=none,o=bind,device=/path)",
                ));
            }
            if !device.starts_with('/') {
                return Err(bad(
                    &format!("device={device}"),
                    "a bind volume's device must be an absolute host path",
                ));
            }
            if !Path::new(device).is_dir() {
                return Err(bad(
                    &format!("device={device}"),
                    "the directory does not exist: create it first",
                ));
            }
            Ok(Kind::Bind(PathBuf::from(device)))
        }
        other => Err(bad(
            &format!("type={other}"),
            "the local driver here takes type=none,o=bind,device=PATH and type=tmpfs; mount \
             other filesystems on the host and bind them",
        )),
    }
}

/// A volume.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub name: String,
    pub created_at: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub anonymous: bool,
    /// `<root>/volumes/<name>/_data`.
    pub mountpoint: PathBuf,
}

impl Volume {
    /// Docker's `volume inspect` shape.
    pub fn inspect(&self) -> serde_json::Value {
        json!({
            "CreatedAt": self.created_at,
            "Driver": "local",
            "Labels": self.labels,
            "Mountpoint": self.mountpoint,
            "Name": self.name,
            "Options": self.options,
            "Scope": "local",
        })
    }
}

/// The volumes of one state root.
pub struct Volumes<'a> {
    dir: PathBuf,
    db: &'a Db,
}

impl<'a> Volumes<'a> {
    pub fn new(root: &Path, db: &'a Db) -> Volumes<'a> {
        Volumes {
            dir: root.join("volumes"),
            db,
        }
    }

    fn io(&self, name: &str, path: &Path, source: std::io::Error) -> VolumeError {
        VolumeError::Io {
            name: name.to_string(),
            path: path.to_path_buf(),
            source,
        }
    }

    fn volume_of(&self, r: VolumeRow) -> Volume {
        Volume {
            mountpoint: self.dir.join(&r.name).join("_data"),
            labels: serde_json::from_str(&r.labels).unwrap_or_default(),
            options: serde_json::from_str(&r.options).unwrap_or_default(),
            anonymous: r.anonymous,
            created_at: r.created,
            name: r.name,
        }
    }

    /// Creates a volume (a random 64-hex name when `name` is `None`). Creating one that
    /// exists with the same options returns it, as Docker does.
    pub fn create(
        &self,
        name: Option<&str>,
        labels: &BTreeMap<String, String>,
        options: &BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<Volume> {
        let name = match name {
            Some(n) => {
                check_name(n)?;
                n.to_string()
            }
            None => crate::engine::random_id(),
        };
        kind_of(options)?;
        let mut labels = labels.clone();
        if anonymous {
            labels.insert(ANONYMOUS_LABEL.into(), String::new());
        }
        let row = VolumeRow {
            name: name.clone(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            labels: serde_json::to_string(&labels).expect("labels serialise"),
            options: serde_json::to_string(options).expect("options serialise"),
            anonymous,
        };
        let data = self.dir.join(&name).join("_data");
        std::fs::create_dir_all(&data).map_err(|e| self.io(&name, &data, e))?;
        if !self.db.volume_insert(&row)? {
            let existing = self.get(&name)?;
            if &existing.options != options {
                return Err(VolumeError::Conflict {
                    name,
                    existing: serde_json::to_string(&existing.options).unwrap_or_default(),
                });
            }
            return Ok(existing);
        }
        Ok(self.volume_of(row))
    }

    pub fn get(&self, name: &str) -> Result<Volume> {
        match self.db.volume_get(name)? {
            Some(r) => Ok(self.volume_of(r)),
            None => Err(VolumeError::NotFound(name.to_string())),
        }
    }

    pub fn list(&self) -> Result<Vec<Volume>> {
        Ok(self
            .db
            .volume_all()?
            .into_iter()
            .map(|r| self.volume_of(r))
            .collect())
    }

    /// The host directory a container binds for this volume, made ready (a tmpfs volume's
    /// tmpfs mounted; a bind volume's device checked).
    pub fn source(&self, v: &Volume) -> Result<PathBuf> {
        match kind_of(&v.options)? {
            Kind::Plain => {
                std::fs::create_dir_all(&v.mountpoint)
                    .map_err(|e| self.io(&v.name, &v.mountpoint, e))?;
                Ok(v.mountpoint.clone())
            }
            Kind::Bind(device) => Ok(device),
            Kind::Tmpfs(options) => {
                std::fs::create_dir_all(&v.mountpoint)
                    .map_err(|e| self.io(&v.name, &v.mountpoint, e))?;
                if !is_mount_point(&v.mountpoint) {
                    use rustix::mount::{mount, MountFlags};
                    let data = std::ffi::CString::new(options).unwrap_or_default();
                    mount(
                        "tmpfs",
                        &v.mountpoint,
                        "tmpfs",
                        MountFlags::NOSUID | MountFlags::NODEV,
                        Some(data.as_c_str()),
                    )
                    .map_err(|e| self.io(&v.name, &v.mountpoint, e.into()))?;
                }
                Ok(v.mountpoint.clone())
            }
        }
    }

    /// The host directory a container binds for this volume, as it is (nothing made or
    /// mounted).
    pub fn host_dir(&self, v: &Volume) -> Result<PathBuf> {
        Ok(match kind_of(&v.options)? {
            Kind::Bind(device) => device,
            Kind::Plain | Kind::Tmpfs(_) => v.mountpoint.clone(),
        })
    }

    /// The engine-wide fill lock (`<root>/volumes/.fill.lock`, a name no volume can have):
    /// exclusive while a volume is filled, shared while starts mount writable directories.
    fn fill_lock(&self, op: rustix::fs::FlockOperation) -> Result<std::fs::File> {
        let path = self.dir.join(".fill.lock");
        let io = |e: std::io::Error| VolumeError::Io {
            name: "(all)".into(),
            path: path.clone(),
            source: e,
        };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        rustix::fs::flock(&lock, op).map_err(|e| io(e.into()))?;
        Ok(lock)
    }

    /// Takes the fill lock shared for a start whose container mounts writable directories;
    /// held until the container runs (or its start failed).
    pub fn hold_mounts(&self) -> Result<MountsHeld> {
        Ok(MountsHeld {
            _lock: self.fill_lock(rustix::fs::FlockOperation::LockShared)?,
        })
    }

    /// Fills the volume from the image's content at `dest` (inside `rootfs`) the first time
    /// a container mounts it, when the volume is empty; unless `writers`, asked under the
    /// fill lock, names anything that has its directory `source` mounted writable (then the
    /// volume stays as it is and unfilled: a later start fills it).
    pub fn populate(
        &self,
        v: &Volume,
        source: &Path,
        rootfs: &Path,
        dest: &str,
        writers: impl FnOnce() -> Vec<String>,
    ) -> Result<Fill> {
        let marker = self.dir.join(&v.name).join("filled");
        if marker.exists() {
            return Ok(Fill::Before);
        }
        // Two containers starting at once: one fills, the other waits and finds it filled;
        // a start mounting writable directories waits for the fill, or the fill for it.
        let _lock = self.fill_lock(rustix::fs::FlockOperation::LockExclusive)?;
        if marker.exists() {
            return Ok(Fill::Before);
        }
        let writers = writers();
        if !writers.is_empty() {
            return Ok(Fill::Deferred(writers));
        }
        let copied =
            copy::copy_up(rootfs, dest, source).map_err(|message| VolumeError::CopyUp {
                name: v.name.clone(),
                dest: dest.to_string(),
                message,
            })?;
        std::fs::write(&marker, b"").map_err(|e| self.io(&v.name, &marker, e))?;
        Ok(Fill::Now { copied })
    }

    /// Removes the volume and its data (the caller checked that no container uses it).
    pub fn remove(&self, name: &str) -> Result<()> {
        let v = self.get(name)?;
        if is_mount_point(&v.mountpoint) {
            rustix::mount::unmount(&v.mountpoint, rustix::mount::UnmountFlags::DETACH)
                .map_err(|e| self.io(name, &v.mountpoint, e.into()))?;
        }
        let dir = self.dir.join(name);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io(name, &dir, e)),
        }
        self.db.volume_remove(name)?;
        Ok(())
    }
}

/// A directory on another filesystem than its parent's (our tmpfs volumes).
fn is_mount_point(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (
        std::fs::metadata(path),
        path.parent().map(std::fs::metadata),
    ) {
        (Ok(m), Some(Ok(p))) => m.dev() != p.dev(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_follow_dockers_rule() {
        for ok in ["data", "a", "db_1.backup-2", "9lives"] {
            check_name(ok).unwrap();
        }
        for bad in ["", "-x", ".hidden", "a/b", "with space", "ünï"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_local_drivers_options() {
        assert_eq!(kind_of(&opts(&[])).unwrap(), Kind::Plain);
        assert_eq!(
            kind_of(&opts(&[("type", "tmpfs"), ("o", "size=1m,mode=0700")])).unwrap(),
            Kind::Tmpfs("size=1m,mode=0700".into())
        );
        let tmp = tempfile::tempdir().unwrap();
        let dev = tmp.path().to_str().unwrap();
        assert_eq!(
            kind_of(&opts(&[("type", "none"), ("o", "bind"), ("device", dev)])).unwrap(),
            Kind::Bind(tmp.path().to_path_buf())
        );
        let e = kind_of(&opts(&[("type", "nfs"), ("o", "addr=1.2.3.4")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("type=nfs") && e.contains("type=tmpfs"), "{e}");
        let e = kind_of(&opts(&[("type", "none"), ("o", "bind"), ("device", "rel")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("absolute"), "{e}");
        let e = kind_of(&opts(&[("type", "tmpfs"), ("o", "exec")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("o=exec"), "{e}");
        let e = kind_of(&opts(&[("colour", "red")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn create_is_idempotent_and_refuses_other_options() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(tmp.path()).unwrap();
        let vols = Volumes::new(tmp.path(), &db);
        let none = BTreeMap::new();
        let v = vols.create(Some("data"), &none, &none, false).unwrap();
        assert!(v.mountpoint.ends_with("volumes/data/_data") && v.mountpoint.is_dir());
        assert_eq!(vols.create(Some("data"), &none, &none, false).unwrap(), v);
        let tmpfs = opts(&[("type", "tmpfs")]);
        assert!(matches!(
            vols.create(Some("data"), &none, &tmpfs, false),
            Err(VolumeError::Conflict { .. })
        ));
        let anon = vols.create(None, &none, &none, true).unwrap();
        assert_eq!(anon.name.len(), 64);
        assert!(anon.labels.contains_key(ANONYMOUS_LABEL));
        assert_eq!(vols.list().unwrap().len(), 2);
        vols.remove("data").unwrap();
        assert!(!tmp.path().join("volumes/data").exists());
        assert!(matches!(vols.get("data"), Err(VolumeError::NotFound(_))));
    }

    #[test]
    fn a_volume_is_not_filled_while_something_has_it_mounted_writable() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(tmp.path()).unwrap();
        let vols = Volumes::new(tmp.path(), &db);
        let none = BTreeMap::new();
        let v = vols.create(Some("data"), &none, &none, false).unwrap();
        let rootfs = tmp.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("data")).unwrap();
        std::fs::write(rootfs.join("data/seed"), b"image").unwrap();
        let src = vols.source(&v).unwrap();
        let fill = |writers: Vec<String>| {
            vols.populate(&v, &src, &rootfs, "/data", move || writers)
                .unwrap()
        };
        assert_eq!(
            fill(vec!["holder".into()]),
            Fill::Deferred(vec!["holder".into()])
        );
        assert_eq!(std::fs::read_dir(&src).unwrap().count(), 0);
        assert_eq!(fill(vec![]), Fill::Now { copied: true });
        assert_eq!(std::fs::read(src.join("seed")).unwrap(), b"image");
        // Filled once: never again, whoever asks.
        std::fs::remove_file(src.join("seed")).unwrap();
        assert_eq!(fill(vec![]), Fill::Before);
        assert_eq!(std::fs::read_dir(&src).unwrap().count(), 0);
    }

    #[test]
    fn held_mounts_keep_fills_out() {
        use rustix::fs::FlockOperation;
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(tmp.path()).unwrap();
        let vols = Volumes::new(tmp.path(), &db);
        let held = vols.hold_mounts().unwrap();
        // Another start may hold it too; a fill may not.
        let also = vols.hold_mounts().unwrap();
        let probe = std::fs::File::open(tmp.path().join("volumes/.fill.lock")).unwrap();
        assert_eq!(
            rustix::fs::flock(&probe, FlockOperation::NonBlockingLockExclusive),
            Err(rustix::io::Errno::WOULDBLOCK)
        );
        drop((held, also));
        rustix::fs::flock(&probe, FlockOperation::NonBlockingLockExclusive).unwrap();
    }
}
