//! Containers: the image store and the runtime joined into containers that outlive the CLI.
//! Settings live in the state database; each running container has a monitor process (see
//! `engine::monitor`) that writes its logs and records, which commands fold in.
//!
//! On disk, per container:
//! - `<root>/containers/<id>/`: `upper/` + `work/` (the writable layer), `rootfs/` (the
//!   overlay's mount point), `files/` (hostname, hosts, resolv.conf), `bundle/config.json`,
//!   `monitor.json` (what the monitor needs), `<id>-json.log` (+ `.1` after rotation),
//!   `exit.json` (the last exit, written atomically by the monitor).
//! - `<run>/containers/<id>/` (tmpfs: gone after a reboot): `monitor.pid` and `running.json`
//!   (the live process), `stop.json` (a stop request); the runtime's own state is under
//!   `<run>/runtime/`.

pub mod config;
pub mod exec;
pub mod hostfiles;
pub mod logs;
pub mod mounts;
pub mod network;
pub mod ops;
pub mod ports;
mod publish;
pub mod records;
mod removal;
pub mod request;
pub mod service;
pub mod spec;
pub mod view;
pub mod volumes;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::engine::image::store::StoreError;
use crate::engine::runtime::RuntimeError;
use crate::engine::state::StateError;

#[derive(Debug, Error)]
pub enum ContainerError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Image(#[from] StoreError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Volume(#[from] crate::engine::volume::VolumeError),
    #[error(transparent)]
    Network(#[from] crate::engine::network::NetworkError),
    #[error("{0}")]
    Invalid(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("container {name} is {status}: {hint}")]
    WrongState {
        name: String,
        status: String,
        hint: &'static str,
    },
    #[error("container {name}: {message}")]
    Failed { name: String, message: String },
}

impl ContainerError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> ContainerError {
        ContainerError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, ContainerError>;

/// Where a container's files are.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The state root (`--root`).
    pub root: PathBuf,
    /// The run directory (tmpfs).
    pub run: PathBuf,
}

impl Paths {
    /// The run directory is `$BERTH_RUN` if set, `/run/berth` for the default state root, and
    /// `<root>/run` for any other root (so test roots stay apart).
    pub fn new(root: &Path) -> Paths {
        let run = match std::env::var_os("BERTH_RUN") {
            Some(r) => PathBuf::from(r),
            None if root == Path::new("/var/lib/berth") => PathBuf::from("/run/berth"),
            None => root.join("run"),
        };
        Paths {
            root: root.to_path_buf(),
            run,
        }
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.run.join("containers").join(id)
    }

    pub fn runtime_root(&self) -> PathBuf {
        self.run.join("runtime")
    }

    pub fn images(&self) -> PathBuf {
        self.root.join("image")
    }

    pub fn log(&self, id: &str) -> PathBuf {
        self.dir(id).join(format!("{id}-json.log"))
    }

    /// Makes the state root, run directory, runtime root and image store root's alone (see
    /// [`crate::engine::private::secure`]): one `stat` per command when they already are.
    pub fn secure(&self) -> std::io::Result<()> {
        crate::engine::private::secure(&crate::engine::private::Layout {
            root: &self.root,
            run: &self.run,
            runtime: &self.runtime_root(),
            images: &self.images(),
        })
    }
}

/// A new 64-hex container ID.
pub fn new_id() -> String {
    crate::engine::random_id()
}

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = name.len() >= 2
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ContainerError::Invalid(format!(
            "invalid container name `{name}`: use [a-zA-Z0-9][a-zA-Z0-9_.-]+"
        )))
    }
}

/// Writes `data` to `path` atomically (temporary file, rename): readers see the old or the
/// new content, never a part. With `durable`, the data reaches the disk before the rename
/// (for records that must survive a power loss; run-directory files need not). The file is
/// root's alone (0600): records hold a container's settings.
pub fn write_atomic(path: &Path, data: &[u8], durable: bool) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = crate::engine::private::open(&tmp, false)?;
    f.write_all(data)?;
    if durable {
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
