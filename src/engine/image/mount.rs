//! Overlay mounts of an image's layers: read-only views (`berth image mount`) and, for
//! containers, a writable upper directory over them.
//!
//! Layer paths are passed as short links relative to the store directory (`l/<id>`), and the
//! mount is made with the store directory as working directory, as Docker's overlay2 does, so
//! the option string of a 60-layer image stays well under the page-size limit of mount(2).

use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum MountError {
    #[error("an image without layers cannot be mounted")]
    NoLayers,
    #[error(
        "the overlay options for {layers} layers are {len} bytes, over the {max}-byte limit of \
         mount(2); flatten the image"
    )]
    OptionsTooLong {
        layers: usize,
        len: usize,
        max: usize,
    },
    #[error("cannot prepare {path}: {source}")]
    Prepare {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("overlay mount on {target} failed: {source} (is the overlay module loaded? `modprobe overlay`)")]
    Mount {
        target: PathBuf,
        source: std::io::Error,
    },
    #[error("unmount of {target} failed: {source}")]
    Unmount {
        target: PathBuf,
        source: std::io::Error,
    },
}

/// The most bytes of mount data the kernel takes (one page).
const MAX_OPTIONS: usize = 4095;

/// A writable layer over the image: `upper` holds the changes, `work` is overlay's scratch
/// directory (same filesystem as `upper`).
pub struct Upper<'a> {
    pub upper: &'a Path,
    pub work: &'a Path,
    /// Skip every sync of the writable layer (overlay's `volatile`, Linux 5.10+; ignored
    /// before): for a layer thrown away with its container. Unmounting then no longer waits
    /// for the upper filesystem to flush (milliseconds per container), and a crash may leave
    /// the layer incomplete, which for such a container does not matter.
    pub volatile: bool,
}

/// Mounts the overlay of `lowers` (relative to `store_dir`, topmost first) on `target`;
/// read-only, nosuid and nodev when `upper` is `None`.
///
/// The process's working directory is `store_dir` during the call: call it from a
/// single-threaded process (the CLI and the container setup process are).
pub fn mount_overlay(
    store_dir: &Path,
    lowers: &[PathBuf],
    upper: Option<Upper<'_>>,
    target: &Path,
) -> Result<(), MountError> {
    if lowers.is_empty() {
        return Err(MountError::NoLayers);
    }
    let mut lowers: Vec<String> = lowers.iter().map(|p| p.display().to_string()).collect();
    if upper.is_none() && lowers.len() == 1 {
        // A read-only overlay needs two lower layers: add an empty one at the bottom.
        let empty = store_dir.join("empty-layer");
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&empty)
            .map_err(|source| MountError::Prepare {
                path: empty.clone(),
                source,
            })?;
        lowers.push("empty-layer".to_string());
    }
    let mut data = format!("lowerdir={}", lowers.join(":"));
    if let Some(u) = &upper {
        data.push_str(&format!(
            ",upperdir={},workdir={}",
            u.upper.display(),
            u.work.display()
        ));
    }
    if data.len() > MAX_OPTIONS {
        return Err(MountError::OptionsTooLong {
            layers: lowers.len(),
            len: data.len(),
            max: MAX_OPTIONS,
        });
    }
    // A read-only view is for the host (`berth image mount`): the image's setuid binaries,
    // file capabilities and device nodes must not work there, whoever runs them. A container's
    // root (with an upper layer) keeps them: setuid works inside a container, as in Docker.
    let flags = if upper.is_none() {
        MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV
    } else {
        MountFlags::empty()
    };
    let previous = std::env::current_dir().map_err(|source| MountError::Prepare {
        path: PathBuf::from("."),
        source,
    })?;
    std::env::set_current_dir(store_dir).map_err(|source| MountError::Prepare {
        path: store_dir.to_path_buf(),
        source,
    })?;
    let data = std::ffi::CString::new(data).map_err(|e| MountError::Prepare {
        path: store_dir.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
    })?;
    let volatile = upper.as_ref().is_some_and(|u| u.volatile);
    let mut result = Err(rustix::io::Errno::INVAL);
    if volatile {
        let mut with = data.clone().into_bytes();
        with.extend_from_slice(b",volatile");
        let with = std::ffi::CString::new(with).expect("no NUL");
        result = rustix::mount::mount("overlay", target, "overlay", flags, Some(with.as_c_str()));
    }
    if !volatile || result == Err(rustix::io::Errno::INVAL) {
        result = rustix::mount::mount("overlay", target, "overlay", flags, Some(data.as_c_str()));
    }
    let _ = std::env::set_current_dir(&previous);
    result.map_err(|e| MountError::Mount {
        target: target.to_path_buf(),
        source: e.into(),
    })
}

/// Unmounts what [`mount_overlay`] mounted (lazily, so a busy mount still goes away).
pub fn unmount(target: &Path) -> Result<(), MountError> {
    rustix::mount::unmount(target, UnmountFlags::DETACH).map_err(|e| MountError::Unmount {
        target: target.to_path_buf(),
        source: e.into(),
    })
}
