//! The container's root filesystem, set up inside its new mount namespace: private
//! propagation, the spec's mounts (targets resolved inside the root by `inroot`, refused when
//! a symlink leads them onto the root or into /proc or /sys, and mounted onto the resolved
//! descriptor, so a symlinked target never lands on the host), a /dev with
//! exactly the standard devices, the cgroup view, pivot_root, then (after sysctls) masked and
//! read-only paths and a read-only root.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, Spec};
use pathrs::Root;
use rustix::fs::{FileType, Mode};
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

/// Mount flags and the remaining data options of a spec mount.
pub fn parse_options(options: &[String]) -> (MountFlags, MountPropagationFlags, bool, String) {
    let mut flags = MountFlags::empty();
    let mut propagation = MountPropagationFlags::empty();
    let mut recursive_bind = false;
    let mut data = Vec::new();
    for o in options {
        match o.as_str() {
            "ro" => flags |= MountFlags::RDONLY,
            "rw" => flags.remove(MountFlags::RDONLY),
            "nosuid" => flags |= MountFlags::NOSUID,
            "suid" => flags.remove(MountFlags::NOSUID),
            "nodev" => flags |= MountFlags::NODEV,
            "dev" => flags.remove(MountFlags::NODEV),
            "noexec" => flags |= MountFlags::NOEXEC,
            "exec" => flags.remove(MountFlags::NOEXEC),
            "relatime" => flags |= MountFlags::RELATIME,
            "strictatime" => flags |= MountFlags::STRICTATIME,
            "noatime" => flags |= MountFlags::NOATIME,
            "bind" => flags |= MountFlags::BIND,
            "rbind" => {
                flags |= MountFlags::BIND;
                recursive_bind = true;
            }
            "private" => propagation |= MountPropagationFlags::PRIVATE,
            "rprivate" => {
                propagation |= MountPropagationFlags::PRIVATE | MountPropagationFlags::REC
            }
            "slave" => propagation |= MountPropagationFlags::DOWNSTREAM,
            "rslave" => {
                propagation |= MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC
            }
            "shared" => propagation |= MountPropagationFlags::SHARED,
            "rshared" => propagation |= MountPropagationFlags::SHARED | MountPropagationFlags::REC,
            other => data.push(other.to_string()),
        }
    }
    (flags, propagation, recursive_bind, data.join(","))
}

/// `what: error: cause: cause...` (pathrs keeps the reason in the error's sources).
fn err(what: &str, e: impl std::error::Error) -> String {
    let mut text = format!("{what}: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// The mount point `dest` inside `root` (made where missing: a file for a file bind, else a
/// directory), checked where it resolves, and its path through /proc/self/fd, valid while
/// the handle lives.
fn mount_point(root: &Root, dest: &Path, file: bool) -> Result<(OwnedFd, PathBuf), String> {
    let kind = if file {
        super::inroot::Kind::File
    } else {
        super::inroot::Kind::Dir
    };
    let handle = super::inroot::mount_target(root, dest, kind)?;
    let path = PathBuf::from(format!("/proc/self/fd/{}", handle.as_raw_fd()));
    Ok((handle, path))
}

fn do_mount(root: &Root, m: &Mount) -> Result<(), String> {
    let typ = m.typ().clone().unwrap_or_default();
    let options = m.options().clone().unwrap_or_default();
    let (flags, propagation, recursive, data) = parse_options(&options);
    let dest = m.destination();
    let what = format!("mount {}", dest.display());
    if typ == "cgroup" || typ == "cgroup2" {
        return super::cgroupfs::mount(root, dest, flags);
    }
    if SPECIAL_DESTINATIONS.contains(&dest.to_str().unwrap_or("")) {
        replace_symlink(root, dest)?;
    }
    let is_bind = flags.contains(MountFlags::BIND) || typ == "bind";
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(&typ));
    let file = is_bind && std::fs::metadata(&source).is_ok_and(|md| !md.is_dir());
    let (_handle, target) = mount_point(root, dest, file)?;
    if is_bind {
        let r = if recursive {
            rustix::mount::mount_bind_recursive(&source, &target)
        } else {
            rustix::mount::mount_bind(&source, &target)
        };
        r.map_err(|e| err(&what, e))?;
        let mut rest = flags - MountFlags::BIND;
        if !rest.is_empty() {
            // The first descriptor names the directory under the new mount: look it up again
            // to reach the mount itself.
            let (top, target) = mount_point(root, dest, file)?;
            // A remount sets every flag: keep the ones the source mount has (a bind of a
            // nosuid or read-only mount never gains suid, devices, exec or writes).
            rest |= locked_flags(&target);
            rustix::mount::mount_remount(&target, MountFlags::BIND | rest, "")
                .map_err(|e| err(&format!("{what} (remount)"), e))?;
            if recursive {
                // Every submount of an rbind gets the same ro/nosuid/nodev/noexec.
                super::mountattr::set_recursive(&top, rest)
                    .map_err(|e| err(&format!("{what} (recursive attributes)"), e))?;
            }
        }
    } else {
        let data = std::ffi::CString::new(data).map_err(|e| err(&what, e))?;
        rustix::mount::mount(&source, &target, typ.as_str(), flags, Some(data.as_c_str()))
            .map_err(|e| err(&what, e))?;
    }
    if !propagation.is_empty() {
        let (_top, target) = mount_point(root, dest, file)?;
        rustix::mount::mount_change(&target, propagation).map_err(|e| err(&what, e))?;
    }
    Ok(())
}

/// The nosuid/nodev/noexec/ro flags of the mount at `path`.
fn locked_flags(path: &Path) -> MountFlags {
    use rustix::fs::StatVfsMountFlags as F;
    let Ok(st) = rustix::fs::statvfs(path) else {
        return MountFlags::empty();
    };
    let mut out = MountFlags::empty();
    for (have, keep) in [
        (F::RDONLY, MountFlags::RDONLY),
        (F::NOSUID, MountFlags::NOSUID),
        (F::NODEV, MountFlags::NODEV),
        (F::NOEXEC, MountFlags::NOEXEC),
    ] {
        if st.f_flag.contains(have) {
            out |= keep;
        }
    }
    out
}

/// Destinations the runtime owns: a symlink there in the image is replaced by a directory,
/// so the container gets berth's own /proc, /sys and /dev, never a mount redirected elsewhere.
const SPECIAL_DESTINATIONS: [&str; 7] = [
    "/proc",
    "/sys",
    "/dev",
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
    "/sys/fs/cgroup",
];

fn replace_symlink(root: &Root, dest: &Path) -> Result<(), String> {
    let rel = dest.strip_prefix("/").unwrap_or(dest);
    let h: OwnedFd = match super::inroot::lookup_nofollow(root, rel) {
        Ok(Some(fd)) => fd,
        Ok(None) => return Ok(()),
        Err(super::inroot::Fallback) => match root.resolve_nofollow(rel) {
            Ok(h) => h.into(),
            Err(_) => return Ok(()),
        },
    };
    let is_link = rustix::fs::fstat(&h)
        .map(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
        .unwrap_or(false);
    drop(h);
    if is_link {
        root.remove_file(rel)
            .map_err(|e| err(&format!("replacing the symlink at {}", dest.display()), e))?;
    }
    Ok(())
}

/// The standard devices in the container's /dev (a tmpfs the spec mounts).
fn populate_dev(root: &Root) -> Result<(), String> {
    // A path-only descriptor serves the *at calls below.
    let dev_fd = root.resolve("dev").map_err(|e| err("/dev", e))?;
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let _ = rustix::fs::unlinkat(&dev_fd, name, rustix::fs::AtFlags::empty());
        rustix::fs::mknodat(
            &dev_fd,
            name,
            FileType::CharacterDevice,
            Mode::from_raw_mode(0o666),
            rustix::fs::makedev(major, minor),
        )
        .map_err(|e| err(&format!("/dev/{name}"), e))?;
        rustix::fs::chmodat(
            &dev_fd,
            name,
            Mode::from_raw_mode(0o666),
            rustix::fs::AtFlags::empty(),
        )
        .map_err(|e| err(&format!("/dev/{name}"), e))?;
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        let _ = rustix::fs::unlinkat(&dev_fd, name, rustix::fs::AtFlags::empty());
        rustix::fs::symlinkat(target, &dev_fd, name)
            .map_err(|e| err(&format!("/dev/{name}"), e))?;
    }
    Ok(())
}

/// A device node the spec asks for (`linux.devices`), made inside the root.
fn make_device(root: &Root, d: &oci_spec::runtime::LinuxDevice) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let path = d.path();
    let what = format!("device {}", path.display());
    let rel = path.strip_prefix("/").unwrap_or(path);
    let name = rel
        .file_name()
        .ok_or_else(|| format!("{what}: no file name"))?;
    let parent = root
        .mkdir_all(
            rel.parent().unwrap_or(Path::new("")),
            &std::fs::Permissions::from_mode(0o755),
        )
        .map_err(|e| err(&what, e))?;
    // A path-only descriptor serves the *at calls below.
    let dir = parent;
    let kind = match d.typ().as_str() {
        "b" => FileType::BlockDevice,
        "p" => FileType::Fifo,
        _ => FileType::CharacterDevice,
    };
    let mode = Mode::from_raw_mode(d.file_mode().unwrap_or(0o666) & 0o7777);
    let _ = rustix::fs::unlinkat(&dir, name, rustix::fs::AtFlags::empty());
    rustix::fs::mknodat(
        &dir,
        name,
        kind,
        mode,
        rustix::fs::makedev(d.major() as u32, d.minor() as u32),
    )
    .map_err(|e| err(&what, e))?;
    rustix::fs::chmodat(&dir, name, mode, rustix::fs::AtFlags::empty())
        .map_err(|e| err(&what, e))?;
    rustix::fs::chownat(
        &dir,
        name,
        d.uid().map(rustix::fs::Uid::from_raw),
        d.gid().map(rustix::fs::Gid::from_raw),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| err(&what, e))
}

/// Sets up the root filesystem and pivots into it. Runs in the container's mount namespace.
pub fn setup(spec: &Spec, bundle: &Path) -> Result<(), String> {
    let root_spec = spec.root().clone().ok_or("the spec has no root")?;
    let rootfs = if root_spec.path().is_absolute() {
        root_spec.path().clone()
    } else {
        bundle.join(root_spec.path())
    };
    let linux = spec.linux().clone().unwrap_or_default();
    let propagation = match linux.rootfs_propagation().as_deref() {
        None | Some("") => MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
        Some(p) => {
            let (_, prop, _, rest) = parse_options(&[p.to_string()]);
            if prop.is_empty() || !rest.is_empty() {
                return Err(format!(
                    "linux.rootfsPropagation `{p}` is not one of private, rprivate, slave, \
                     rslave, shared, rshared"
                ));
            }
            prop
        }
    };
    // Nothing the container mounts propagates back to the host (unless it asked for shared).
    let shared = propagation.contains(MountPropagationFlags::SHARED);
    let first = if shared {
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC
    } else {
        propagation
    };
    rustix::mount::mount_change("/", first).map_err(|e| err("making / private", e))?;
    rustix::mount::mount_bind_recursive(&rootfs, &rootfs)
        .map_err(|e| err(&format!("bind {}", rootfs.display()), e))?;
    let root = Root::open(&rootfs).map_err(|e| err(&format!("root {}", rootfs.display()), e))?;
    let mut dev_tmpfs = false;
    for m in spec.mounts().clone().unwrap_or_default() {
        do_mount(&root, &m)?;
        if m.destination() == Path::new("/dev") && m.typ().as_deref() == Some("tmpfs") {
            dev_tmpfs = true;
        }
    }
    if dev_tmpfs {
        populate_dev(&root)?;
    }
    let devices = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    for d in devices {
        make_device(&root, &d)?;
    }
    drop(root);
    std::env::set_current_dir(&rootfs).map_err(|e| err("chdir to the root", e))?;
    rustix::process::pivot_root(".", ".").map_err(|e| err("pivot_root", e))?;
    rustix::mount::unmount(".", UnmountFlags::DETACH)
        .map_err(|e| err("detaching the old root", e))?;
    std::env::set_current_dir("/").map_err(|e| err("chdir /", e))?;
    if shared {
        // pivot_root refuses shared mounts: the root becomes shared only once it is in place.
        rustix::mount::mount_change("/", propagation).map_err(|e| err("rootfsPropagation", e))?;
    }
    Ok(())
}

/// After pivot_root and the steps that write to /proc/sys: masked paths, read-only paths and
/// the read-only root.
pub fn lock_down(spec: &Spec) -> Result<(), String> {
    let linux = spec.linux().clone().unwrap_or_default();
    let root_readonly = spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false);
    for p in linux.masked_paths().clone().unwrap_or_default() {
        mask(Path::new(&p))?;
    }
    for p in linux.readonly_paths().clone().unwrap_or_default() {
        readonly(Path::new(&p))?;
    }
    if root_readonly {
        rustix::mount::mount_remount("/", MountFlags::BIND | MountFlags::RDONLY, "")
            .map_err(|e| err("read-only root", e))?;
    }
    Ok(())
}

fn mask(p: &Path) -> Result<(), String> {
    let Ok(md) = std::fs::symlink_metadata(p) else {
        return Ok(());
    };
    let r = if md.is_dir() {
        rustix::mount::mount("tmpfs", p, "tmpfs", MountFlags::RDONLY, None)
    } else {
        rustix::mount::mount_bind("/dev/null", p)
    };
    r.map_err(|e| err(&format!("masking {}", p.display()), e))
}

fn readonly(p: &Path) -> Result<(), String> {
    if std::fs::symlink_metadata(p).is_err() {
        return Ok(());
    }
    rustix::mount::mount_bind_recursive(p, p)
        .map_err(|e| err(&format!("read-only {}", p.display()), e))?;
    rustix::mount::mount_remount(
        p,
        MountFlags::BIND
            | MountFlags::RDONLY
            | MountFlags::NOSUID
            | MountFlags::NODEV
            | MountFlags::NOEXEC,
        "",
    )
    .map_err(|e| err(&format!("read-only {}", p.display()), e))
}
