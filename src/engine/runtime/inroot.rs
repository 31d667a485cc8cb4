//! Looking up and making mount points inside the container's root, with the lookups done by
//! the kernel (`openat2` with `RESOLVE_IN_ROOT`: symlinks and `..` resolve inside the root,
//! never out of it) and new entries made relative to a parent found that way.
//!
//! pathrs does the same and more, and stays the way where `openat2` is missing (Linux
//! before 5.6) or a path is not plain. It is not the first choice here because every failed
//! call of its own (a path that does not exist yet, which is most mount points of a minimal
//! image, and its procfs checks) builds its error message by reading `/proc/thread-self/fd/N`
//! through a verified procfs handle: ~10 system calls each, ~700 of the ~1800 of a
//! container's setup.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
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

/// The text of the regular file `rel` inside the directory `rootfs` (an image's
/// `/etc/passwd`); None when it is missing, not a regular file or unreadable.
pub fn read_file(rootfs: &Path, rel: &Path) -> Option<String> {
    use std::io::Read;
    let root = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    // Non-blocking: a FIFO in an image never stalls the reader (and is refused below).
    let opened = rustix::fs::openat2(
        &root,
        rel,
        OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    );
    let fd = match opened {
        Ok(fd) => fd,
        Err(Errno::NOSYS) => {
            let root = Root::open(rootfs).ok()?;
            let h = root.resolve(rel).ok()?;
            h.reopen(pathrs::flags::OpenFlags::O_RDONLY | pathrs::flags::OpenFlags::O_NONBLOCK)
                .ok()?
                .into()
        }
        Err(_) => return None,
    };
    let st = rustix::fs::fstat(&fd).ok()?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return None;
    }
    let mut text = String::new();
    std::fs::File::from(fd).read_to_string(&mut text).ok()?;
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
    }
}
