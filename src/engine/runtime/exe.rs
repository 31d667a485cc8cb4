//! berth's binaries as a container's processes may see them (CVE-2019-5736): a process that
//! becomes a container's (its first process, an exec'd one, a health check) execs the
//! container's program from a process whose `/proc/self/exe` is a berth binary, and a program
//! spelled `/proc/self/exe` (or a descriptor of it kept across an exec) reaches that binary.
//! It must never be the host's file: a container could write it, and the next berth command
//! would run its code as root on the host.
//!
//! So berth's processes that can reach a container run from a *protected* binary:
//! - a private, read-only overlay of the directory holding the binaries, made with
//!   `fsopen`/`fsmount` and never attached anywhere (runc >= 1.2 does the same): nothing can
//!   make it writable, the page cache stays shared with the host file, and it costs ~0.1 ms;
//! - else a sealed memfd copy (no writes, no growth, no shrinking), ~10 ms for berth.
//!
//! A process started from a protected binary knows it ([`self_protected`]) and may fork the
//! container's setup straight away; any other forks nothing into a container and execs a
//! protected copy of itself instead.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{MemfdFlags, Mode, OFlags, SealFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags};

/// overlayfs's `f_type` (include/uapi/linux/magic.h).
const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

/// The empty directory under a runtime root that serves as the overlay's second layer
/// (overlayfs needs two lower layers when it has no upper one). Not a valid container ID's
/// directory in practice: the runtime's `list` skips names starting with a dot.
pub const EMPTY_LAYER: &str = ".empty";

/// True when the file behind `fd` cannot be written by anyone: a sealed memfd, or a file on
/// a read-only overlay mount.
pub fn is_protected(fd: BorrowedFd<'_>) -> bool {
    if rustix::fs::fcntl_get_seals(fd).is_ok_and(|s| s.contains(SealFlags::WRITE)) {
        return true;
    }
    // `f_type`'s integer type differs between architectures.
    #[allow(clippy::unnecessary_cast)]
    let overlay = rustix::fs::fstatfs(fd).is_ok_and(|s| s.f_type as i64 == OVERLAYFS_SUPER_MAGIC);
    overlay
        && rustix::fs::fstatvfs(fd)
            .is_ok_and(|s| s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
}

/// True when this process runs from a protected binary.
pub fn self_protected() -> bool {
    rustix::fs::open(
        "/proc/self/exe",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .is_ok_and(|fd| is_protected(fd.as_fd()))
}

/// The small binary installed beside `berth` that runs a container's processes (the monitor,
/// the setup stages): less to load and relocate than `berth` itself.
pub const SETUP_BINARY: &str = "berth-monitor";

/// This process's binary, protected: `None` when it runs from a protected one already
/// (`/proc/self/exe` is then safe to exec), else a descriptor of a protected copy.
/// `runtime_root` holds the overlay's empty layer.
pub fn protect_self(runtime_root: &Path) -> io::Result<Option<OwnedFd>> {
    protect(runtime_root, false)
}

/// A protected binary to exec a container's setup stages from (`oci __init2`, `oci __exec1`):
/// as [`protect_self`], but [`SETUP_BINARY`] when it is installed beside this one (~3 ms less
/// to start than `berth`).
pub fn protect_setup_binary(runtime_root: &Path) -> io::Result<Option<OwnedFd>> {
    protect(runtime_root, true)
}

fn protect(runtime_root: &Path, small: bool) -> io::Result<Option<OwnedFd>> {
    if self_protected() {
        return Ok(None);
    }
    let own = std::fs::read_link("/proc/self/exe")?;
    // A binary replaced since this process started reads "... (deleted)": copy what runs.
    if let (Some(dir), Some(name), true) = (own.parent(), own.file_name(), own.is_file()) {
        let mut names = vec![Path::new(name)];
        if small {
            names.insert(0, Path::new(SETUP_BINARY));
        }
        if let Ok(fds) = overlay(dir, &names, runtime_root) {
            if let Some(fd) = fds.into_iter().flatten().next() {
                return Ok(Some(fd));
            }
        }
    }
    sealed_copy(Path::new("/proc/self/exe")).map(Some)
}

/// `names` in `dir`, each protected: path-only descriptors through one overlay of `dir`
/// (sealed copies where that cannot be made); `None` for a name that is not there.
pub fn protect_in(
    dir: &Path,
    names: &[&Path],
    runtime_root: &Path,
) -> io::Result<Vec<Option<OwnedFd>>> {
    match overlay(dir, names, runtime_root) {
        Ok(fds) => Ok(fds),
        Err(e) => {
            tracing::debug!(dir = %dir.display(), "no overlay for berth's binaries ({e}): sealed copies");
            names
                .iter()
                .map(|n| {
                    let p = dir.join(n);
                    if p.is_file() {
                        sealed_copy(&p).map(Some)
                    } else {
                        Ok(None)
                    }
                })
                .collect()
        }
    }
}

/// overlayfs separates layers with `:` and escapes with `\`.
fn escape_layer(p: &Path) -> String {
    p.to_string_lossy()
        .replace('\\', "\\\\")
        .replace(':', "\\:")
}

/// The overlay's empty second layer under `runtime_root` (made when missing).
fn empty_layer(runtime_root: &Path) -> io::Result<PathBuf> {
    let empty = runtime_root.join(EMPTY_LAYER);
    match std::fs::symlink_metadata(&empty) {
        Ok(m) if m.is_dir() => return Ok(empty),
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} is not a directory", empty.display()),
            ))
        }
        Err(_) => {}
    }
    crate::engine::private::create_dir(runtime_root)?;
    match rustix::fs::mkdir(&empty, Mode::from_raw_mode(0o555)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(empty),
        Err(e) => Err(e.into()),
    }
}

/// Opens `names` in `dir` through a private read-only overlay of it.
fn overlay(dir: &Path, names: &[&Path], runtime_root: &Path) -> io::Result<Vec<Option<OwnedFd>>> {
    let empty = empty_layer(runtime_root)?;
    let ctx = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    // The binaries' directory on top, so nothing in the empty layer can mask them.
    let layers = format!("{}:{}", escape_layer(dir), escape_layer(&empty));
    rustix::mount::fsconfig_set_string(ctx.as_fd(), "lowerdir", layers.as_str())?;
    // Inode numbers do not matter here; without this the kernel may log about them.
    let _ = rustix::mount::fsconfig_set_string(ctx.as_fd(), "xino", "off");
    rustix::mount::fsconfig_create(ctx.as_fd())?;
    let mnt = rustix::mount::fsmount(
        ctx.as_fd(),
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_RDONLY
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOSUID,
    )?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        match rustix::fs::openat(
            &mnt,
            *name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd)
                if rustix::fs::fstat(&fd).is_ok_and(|s| {
                    rustix::fs::FileType::from_raw_mode(s.st_mode)
                        == rustix::fs::FileType::RegularFile
                }) =>
            {
                out.push(Some(fd))
            }
            Ok(_) | Err(rustix::io::Errno::NOENT) => out.push(None),
            Err(e) => return Err(e.into()),
        }
    }
    // The mount lives on through the descriptors (and the processes that exec them) only.
    Ok(out)
}

/// A sealed in-memory copy of the binary at `path`.
pub fn sealed_copy(path: &Path) -> io::Result<OwnedFd> {
    let src = std::fs::File::open(path)?;
    let len = src.metadata()?.len();
    let memfd = rustix::fs::memfd_create(
        "berth-runtime",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )?;
    let mut left = len;
    while left > 0 {
        let n = rustix::fs::sendfile(&memfd, &src, None, left as usize)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while being copied", path.display()),
            ));
        }
        left -= n as u64;
    }
    rustix::fs::fcntl_add_seals(
        &memfd,
        SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
    )?;
    Ok(memfd)
}

/// The path a child process execs a descriptor by (it inherits the descriptor until its
/// exec, close-on-exec or not).
pub fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;

    fn write_attempt(path: &Path) -> io::Result<()> {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| f.write_all(b"\x7fELF-overwritten"))
    }

    #[test]
    fn the_copy_cannot_be_written() {
        let fd = sealed_copy(Path::new("/proc/self/exe")).unwrap();
        let path = fd_path(fd.as_fd());
        let own = std::fs::metadata("/proc/self/exe").unwrap().len();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), own);
        assert!(write_attempt(&path).is_err(), "a sealed copy took a write");
        assert!(rustix::fs::ftruncate(&fd, 0).is_err());
        assert!(is_protected(fd.as_fd()));
    }

    #[test]
    fn the_overlay_serves_the_binary_read_only() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("the_overlay_serves_the_binary_read_only: skipped: needs root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin:x");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("tool"), b"#!/bin/sh\necho hi\n").unwrap();
        let names = [Path::new("tool"), Path::new("absent")];
        let fds = protect_in(&bin, &names, &tmp.path().join("runtime")).unwrap();
        let tool = fds[0].as_ref().unwrap();
        assert!(fds[1].is_none());
        let path = fd_path(tool.as_fd());
        assert_eq!(std::fs::read(&path).unwrap(), b"#!/bin/sh\necho hi\n");
        let err = write_attempt(&path).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
        let reopened = rustix::fs::open(&path, OFlags::RDONLY, Mode::empty()).unwrap();
        assert!(is_protected(reopened.as_fd()));
        // Not the host's file, and the host's file is not protected.
        let host = std::fs::metadata(bin.join("tool")).unwrap();
        let seen = std::fs::metadata(&path).unwrap();
        assert_ne!((host.dev(), host.ino()), (seen.dev(), seen.ino()));
        let plain = std::fs::File::open(bin.join("tool")).unwrap();
        assert!(!is_protected(plain.as_fd()));
        // Nothing is mounted anywhere.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(tmp.path().to_str().unwrap()), "{mounts}");
    }
}
