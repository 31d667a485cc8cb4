//! Looking up and making mount points inside the container's root, with the lookups done by
//! the kernel (`openat2` with `RESOLVE_IN_ROOT`: symlinks and `..` resolve inside the root,
//! never out of it) and new entries made relative to a parent found that way; a mount
//! target is checked where it resolves ([`mount_target`]), not where it is spelled.
//!
//! pathrs does the same and more, and stays the way where `openat2` is missing (Linux
//! before 5.6) or a path is not plain. It is not the first choice here because every failed
//! call of its own (a path that does not exist yet, which is most mount points of a minimal
//! image, and its procfs checks) builds its error message by reading `/proc/thread-self/fd/N`
//! through a verified procfs handle: ~10 system calls each, ~700 of the ~1800 of a
//! container's setup.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path};

use pathrs::Root;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// What [`ensure`] makes when the path is missing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Dir,
    File,
}

/// Why the fast way could not answer: use pathrs.
#[derive(Debug)]
pub struct Fallback;

fn lookup(root: impl AsFd, rel: &Path) -> rustix::io::Result<OwnedFd> {
    let path = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(
            &root,
            path,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ) {
            // A rename elsewhere during the lookup: the kernel asks to try again.
            Err(Errno::AGAIN) if tries < 8 => tries += 1,
            other => return other,
        }
    }
}

/// The plain names `rel` is made of; None when it has anything else (`..`, `.`, a root).
fn names(rel: &Path) -> Option<Vec<&OsStr>> {
    rel.components()
        .map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// `rel` inside `root`, made (mode 0755 directories, an empty 0644 file) where missing:
/// a path-only descriptor of it.
pub fn ensure(root: &Root, rel: &Path, kind: Kind) -> Result<OwnedFd, Fallback> {
    let names = names(rel).ok_or(Fallback)?;
    match lookup(root, rel) {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOENT) => {}
        // ENOSYS (no openat2) and anything unexpected: pathrs decides.
        Err(_) => return Err(Fallback),
    }
    // The deepest existing ancestor, then each missing name made in its parent.
    let mut have = names.len();
    let mut parent = loop {
        if have == 0 {
            break lookup(root, Path::new("")).map_err(|_| Fallback)?;
        }
        let prefix: std::path::PathBuf = names[..have].iter().collect();
        match lookup(root, &prefix) {
            Ok(fd) => break fd,
            Err(Errno::NOENT) => have -= 1,
            Err(_) => return Err(Fallback),
        }
    };
    for (i, name) in names.iter().enumerate().skip(have) {
        let last = i + 1 == names.len();
        let made = if last && kind == Kind::File {
            rustix::fs::openat(
                &parent,
                *name,
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            )
            .map(drop)
        } else {
            rustix::fs::mkdirat(&parent, *name, Mode::from_raw_mode(0o755))
        };
        match made {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(_) => return Err(Fallback),
        }
        let prefix: std::path::PathBuf = names[..=i].iter().collect();
        parent = lookup(root, &prefix).map_err(|_| Fallback)?;
    }
    Ok(parent)
}

/// The lexically cleaned form of an absolute container path (`.` and `..` folded, a `..` at
/// the top staying at the top), as the plain names it is made of.
pub fn clean(dest: &Path) -> Vec<std::ffi::OsString> {
    let mut names = Vec::new();
    for c in dest.components() {
        match c {
            Component::Normal(n) => names.push(n.to_os_string()),
            Component::ParentDir => {
                names.pop();
            }
            _ => {}
        }
    }
    names
}

/// Directories whose mounts belong to the kernel's view the runtime sets up: nothing lands
/// there through a symlink.
const KERNEL_DIRS: [&str; 2] = ["/proc", "/sys"];

/// `statfs` magic numbers of procfs and sysfs.
const KERNEL_FS: [u64; 2] = [0x9fa0, 0x6265_6572];

fn is_kernel_path(p: &Path) -> bool {
    KERNEL_DIRS.iter().any(|k| p.starts_with(k))
}

/// The path of an open file as the kernel names it, relative to this process's root.
fn fd_path(fd: impl AsFd) -> Option<std::path::PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd())).ok()
}

/// Where `fd` is inside the container's root (an absolute container path), from the paths
/// the kernel gives the two descriptors; None when it is not under the root.
fn in_root_path(root: &Root, fd: impl AsFd) -> Option<std::path::PathBuf> {
    let base = fd_path(root)?;
    let at = fd_path(fd)?;
    let rel = at.strip_prefix(&base).ok()?;
    Some(Path::new("/").join(rel))
}

/// Why a mount on `resolved` is refused when `spelled` was asked for: a symlink in the root
/// filesystem led it onto the root itself or into the kernel's /proc or /sys (where a mount
/// would hide or replace what the runtime and the container's process rely on).
fn refusal(
    spelled: &Path,
    clean: &Path,
    resolved: &Path,
    kernel_fs: impl FnOnce() -> bool,
) -> Option<String> {
    let why = if resolved == Path::new("/") {
        "the container's root itself cannot be a mount target"
    } else if resolved != clean && (is_kernel_path(resolved) || kernel_fs()) {
        "/proc and /sys belong to the kernel; a mount cannot be led there through a symlink"
    } else {
        return None;
    };
    let how = if resolved == clean {
        ""
    } else {
        " (through a symlink in the root filesystem)"
    };
    Some(format!(
        "mount destination {} resolves to {} inside the container's root{how}: {why}; mount \
         elsewhere or remove the symlink from the image",
        spelled.display(),
        resolved.display()
    ))
}

/// The checked target of a mount at `dest`: resolved inside `root` by the kernel (symlinks
/// and `..` stay in the root), refused with an error naming `dest` and where it leads when
/// that is the root or a symlink takes it into /proc or /sys (checked before anything is
/// made, then again on the descriptor the mount goes onto), and made (a directory, or an
/// empty file for `Kind::File`) where missing. A path-only descriptor.
pub fn mount_target(root: &Root, dest: &Path, kind: Kind) -> Result<OwnedFd, String> {
    let names = clean(dest);
    let clean_path = Path::new("/").join(names.iter().collect::<std::path::PathBuf>());
    let rel: std::path::PathBuf = names.iter().collect();
    let what = || format!("mount point {}", dest.display());
    let whereabouts = |fd: &OwnedFd| {
        in_root_path(root, fd).ok_or_else(|| {
            format!(
                "mount destination {}: cannot tell where it resolves inside the container's root",
                dest.display()
            )
        })
    };
    // Where the part that exists leads, and so where the whole path will: the names still
    // missing are made plain, in that directory.
    let (have, ancestor) = deepest(root, &names).map_err(|e| format!("{}: {e}", what()))?;
    let mut resolved = whereabouts(&ancestor)?;
    resolved.extend(&names[have..]);
    if let Some(e) = refusal(dest, &clean_path, &resolved, || on_kernel_fs(&ancestor)) {
        return Err(e);
    }
    if have == names.len() {
        // It all exists: the descriptor checked is the one mounted onto.
        return Ok(ancestor);
    }
    drop(ancestor);
    let fd = match ensure(root, &rel, kind) {
        Ok(fd) => fd,
        Err(Fallback) => {
            made_by_pathrs(root, &rel, kind).map_err(|e| format!("{}: {e}", what()))?
        }
    };
    // Again on what the mount goes onto: the tree may have changed meanwhile (a volume
    // another container writes to).
    let resolved = whereabouts(&fd)?;
    if let Some(e) = refusal(dest, &clean_path, &resolved, || on_kernel_fs(&fd)) {
        return Err(e);
    }
    Ok(fd)
}

fn on_kernel_fs(fd: impl AsFd) -> bool {
    rustix::fs::fstatfs(fd).is_ok_and(|s| KERNEL_FS.contains(&(s.f_type as u64)))
}

/// The deepest existing directory on the way to `names` (how many names it covers, and a
/// descriptor of it); the root when nothing exists.
fn deepest(root: &Root, names: &[std::ffi::OsString]) -> Result<(usize, OwnedFd), Errno> {
    for have in (1..=names.len()).rev() {
        let prefix: std::path::PathBuf = names[..have].iter().collect();
        match lookup(root, &prefix) {
            Ok(fd) => return Ok((have, fd)),
            Err(Errno::NOSYS) => {
                if let Ok(h) = root.resolve(&prefix) {
                    return Ok((have, h.into()));
                }
            }
            Err(_) => {}
        }
    }
    let top = match lookup(root, Path::new("")) {
        Ok(fd) => fd,
        Err(_) => rustix::io::fcntl_dupfd_cloexec(root, 3)?,
    };
    Ok((0, top))
}

/// [`ensure`] by pathrs, where `openat2` is missing or the path is not plain.
fn made_by_pathrs(root: &Root, rel: &Path, kind: Kind) -> Result<OwnedFd, String> {
    use std::os::unix::fs::PermissionsExt;
    let e = |e: pathrs::error::Error| {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        text
    };
    if let Ok(h) = root.resolve(rel) {
        return Ok(h.into());
    }
    let perm = std::fs::Permissions::from_mode(0o755);
    if kind == Kind::File {
        let parent = rel.parent().unwrap_or(Path::new(""));
        root.mkdir_all(parent, &perm).map_err(e)?;
        root.create(
            rel,
            &pathrs::InodeType::File(std::fs::Permissions::from_mode(0o644)),
        )
        .map_err(e)?;
        Ok(root.resolve(rel).map_err(e)?.into())
    } else {
        Ok(root.mkdir_all(rel, &perm).map_err(e)?.into())
    }
}

/// `rel` inside `root` without following a symlink at its end; Ok(None) when it does not
/// exist.
pub fn lookup_nofollow(root: &Root, rel: &Path) -> Result<Option<OwnedFd>, Fallback> {
    names(rel).ok_or(Fallback)?;
    match rustix::fs::openat2(
        root,
        rel,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOENT) => Ok(None),
        Err(_) => Err(Fallback),
    }
}

/// The largest file [`read_file`] reads (an `/etc/passwd` of a million users is ~50 MB;
/// images have a few dozen lines).
const MAX_READ: u64 = 16 << 20;

/// The text of the regular file `rel` inside the directory `rootfs` (an image's or a running
/// container's `/etc/passwd`); None when it is missing, not a regular file, larger than 16
/// MiB or unreadable. The file is found by a path-only descriptor and checked before it is
/// opened for reading: opening a device node a container put there (a watchdog, a tape) can
/// act on the host's device, and a FIFO would block.
pub fn read_file(rootfs: &Path, rel: &Path) -> Option<String> {
    use std::io::Read;
    let root = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let found = rustix::fs::openat2(
        &root,
        rel,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    );
    let path_fd: OwnedFd = match found {
        Ok(fd) => fd,
        Err(Errno::NOSYS) => Root::open(rootfs).ok()?.resolve(rel).ok()?.into(),
        Err(_) => return None,
    };
    let st = rustix::fs::fstat(&path_fd).ok()?;
    let regular =
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile;
    if !regular || st.st_size as u64 > MAX_READ {
        return None;
    }
    // The same inode, now for reading (it may grow meanwhile: the read stops at the limit).
    let fd = rustix::fs::open(
        format!("/proc/thread-self/fd/{}", path_fd.as_raw_fd()),
        OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut text = String::new();
    std::fs::File::from(fd)
        .take(MAX_READ)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn makes_what_is_missing_and_stays_inside_the_root() {
        let d = tmp();
        let root_dir = d.path().join("root");
        std::fs::create_dir_all(root_dir.join("etc")).unwrap();
        // A symlink that points out of the root resolves inside it.
        std::os::unix::fs::symlink("/", root_dir.join("up")).unwrap();
        std::os::unix::fs::symlink("../../..", root_dir.join("etc/dotdot")).unwrap();
        let root = Root::open(&root_dir).unwrap();
        ensure(&root, Path::new("proc/sys"), Kind::Dir).unwrap();
        assert!(root_dir.join("proc/sys").is_dir());
        ensure(&root, Path::new("etc/hosts"), Kind::File).unwrap();
        assert!(root_dir.join("etc/hosts").is_file());
        ensure(&root, Path::new("up/made"), Kind::Dir).unwrap();
        assert!(root_dir.join("made").is_dir(), "made inside the root");
        ensure(&root, Path::new("etc/dotdot/also"), Kind::Dir).unwrap();
        assert!(root_dir.join("also").is_dir(), "made inside the root");
        assert!(!d.path().join("made").exists() && !d.path().join("also").exists());
        // Existing entries are looked up, not made again.
        ensure(&root, Path::new("etc"), Kind::Dir).unwrap();
        assert!(
            ensure(&root, Path::new("../x"), Kind::Dir).is_err(),
            "not plain: pathrs"
        );
    }

    #[test]
    fn mount_targets_led_into_proc_sys_or_onto_the_root_are_refused_before_anything_is_made() {
        let d = tmp();
        let root_dir = d.path().join("root");
        for dir in ["proc/sys", "sys", "tmp", "etc"] {
            std::fs::create_dir_all(root_dir.join(dir)).unwrap();
        }
        for (path, target) in [
            ("data", "/proc"),
            ("psys", "/proc/sys"),
            ("etc/up", "../proc"),
            ("s", "/sys"),
            ("d", "/"),
            ("chain", "/chain2"),
            ("chain2", "proc"),
            ("okl", "/tmp"),
            ("dangling", "/proc/none"),
        ] {
            std::os::unix::fs::symlink(target, root_dir.join(path)).unwrap();
        }
        let root = Root::open(&root_dir).unwrap();
        for (dest, resolved) in [
            ("/data", "/proc"),
            ("/psys", "/proc/sys"),
            ("/etc/up", "/proc"),
            ("/s/kernel", "/sys/kernel"),
            ("/d/proc/x", "/proc/x"),
            ("/chain", "/proc"),
            ("/d", "/"),
            ("/", "/"),
            ("/tmp/../d/sys", "/sys"),
        ] {
            let e = mount_target(&root, Path::new(dest), Kind::Dir).unwrap_err();
            assert!(
                e.starts_with(&format!("mount destination {dest} resolves to {resolved} ")),
                "{dest}: {e}"
            );
        }
        assert!(!root_dir.join("proc/x").exists() && !root_dir.join("sys/kernel").exists());
        // A link to what does not exist yet is not made through.
        let e = mount_target(&root, Path::new("/dangling"), Kind::Dir).unwrap_err();
        assert!(e.contains("/dangling"), "{e}");
        assert!(!root_dir.join("proc/none").exists());
        // Spelled as it resolves: the runtime's own mounts; a link elsewhere is followed.
        for dest in ["/proc", "/sys/fs/cgroup", "/okl/made", "/new/dir"] {
            mount_target(&root, Path::new(dest), Kind::Dir).unwrap();
        }
        assert!(root_dir.join("tmp/made").is_dir() && root_dir.join("new/dir").is_dir());
        mount_target(&root, Path::new("/etc/hosts"), Kind::File).unwrap();
        assert!(root_dir.join("etc/hosts").is_file());
    }

    #[test]
    fn a_dangling_symlink_is_not_followed_out_when_a_file_is_made() {
        let d = tmp();
        let root_dir = d.path().join("root");
        std::fs::create_dir_all(root_dir.join("etc")).unwrap();
        let outside = d.path().join("outside");
        std::os::unix::fs::symlink(&outside, root_dir.join("etc/resolv.conf")).unwrap();
        let root = Root::open(&root_dir).unwrap();
        // Inside the root the link's target does not exist either: the file is not made
        // through the link.
        let r = ensure(&root, Path::new("etc/resolv.conf"), Kind::File);
        assert!(r.is_err());
        assert!(!outside.exists());
        assert!(lookup_nofollow(&root, Path::new("etc/resolv.conf"))
            .unwrap()
            .is_some());
        assert!(lookup_nofollow(&root, Path::new("etc/none"))
            .unwrap()
            .is_none());
    }

    #[test]
    fn reads_files_inside_the_root_only() {
        let d = tmp();
        let root_dir = d.path().join("root");
        std::fs::create_dir_all(root_dir.join("etc")).unwrap();
        std::fs::write(d.path().join("secret"), "host").unwrap();
        std::fs::write(root_dir.join("secret"), "inside").unwrap();
        std::fs::write(root_dir.join("etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
        std::os::unix::fs::symlink("../../../../../../secret", root_dir.join("etc/group")).unwrap();
        std::os::unix::fs::symlink(d.path().join("secret"), root_dir.join("etc/shadow")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root_dir.join("etc/fifo"),
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let read = |p: &str| read_file(&root_dir, Path::new(p));
        assert_eq!(
            read("etc/passwd").as_deref(),
            Some("root:x:0:0::/:/bin/sh\n")
        );
        assert_eq!(
            read("etc/group").as_deref(),
            Some("inside"),
            "`..` stops at the root"
        );
        assert_eq!(
            read("etc/shadow"),
            None,
            "the host path does not exist in the root"
        );
        assert_eq!(read("etc/fifo"), None, "a FIFO is refused, not waited on");
        assert_eq!(read("etc/none"), None);
        // Larger than anything an image needs (sparse: no disk used).
        let big = std::fs::File::create(root_dir.join("etc/big")).unwrap();
        big.set_len(MAX_READ + 1).unwrap();
        assert_eq!(read("etc/big"), None);
    }

    #[test]
    fn a_device_node_is_never_opened() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("a_device_node_is_never_opened: skipped: needs root");
            return;
        }
        let d = tmp();
        let root_dir = d.path().join("root");
        std::fs::create_dir_all(root_dir.join("etc")).unwrap();
        // /dev/null's numbers: harmless if opened, and an open is what the watch sees.
        let node = root_dir.join("etc/passwd");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &node,
            rustix::fs::FileType::CharacterDevice,
            Mode::from_raw_mode(0o644),
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
        use rustix::fs::inotify;
        let watch =
            inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK).unwrap();
        inotify::add_watch(&watch, &node, inotify::WatchFlags::OPEN).unwrap();
        // The watch itself works: an open is seen.
        drop(std::fs::File::open(&node).unwrap());
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1024];
        let mut events = inotify::Reader::new(&watch, &mut buf);
        assert!(events.next().is_ok(), "the watch saw the test's own open");
        assert!(events.next().is_err(), "nothing else yet");
        assert_eq!(read_file(&root_dir, Path::new("etc/passwd")), None);
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1024];
        let mut events = inotify::Reader::new(&watch, &mut buf);
        assert!(events.next().is_err(), "read_file opened the device node");
    }
}
