//! Copy-up: an empty volume gets the image's content at its mount point, as Docker copies
//! it: files, directories, symlinks (never followed), hard links, fifos and device nodes,
//! with owner, mode and times; the volume's top directory takes the owner and mode of the
//! image's directory (a database image's 999:999 0700 data directory stays so).
//!
//! The image side is read through `pathrs` (the mount point and every symlink on the way
//! resolve inside the root filesystem, never on the host) and then by descriptor; the volume
//! side is written by descriptor with single names from the directory listing, so neither
//! side can be redirected out of its tree. Extended attributes are not copied.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::Timespec;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat, Timestamps};

/// Directories nested deeper than this are refused (each level holds descriptors).
const MAX_DEPTH: usize = 256;

type Result<T> = std::result::Result<T, String>;

fn e(what: impl std::fmt::Display, err: impl std::fmt::Display) -> String {
    format!("{what}: {err}")
}

/// Copies the image's directory at `dest` (inside `rootfs`) into the empty directory `data`.
/// `Ok(false)` when there is nothing to copy: no such path in the image, not a directory, or
/// `data` not empty.
pub fn copy_up(rootfs: &Path, dest: &str, data: &Path) -> Result<bool> {
    let rel = dest.trim_start_matches('/');
    if rel.is_empty() {
        return Ok(false);
    }
    let root = pathrs::Root::open(rootfs).map_err(|x| e(rootfs.display(), x))?;
    let Ok(handle) = root.resolve(rel) else {
        return Ok(false);
    };
    let src = match handle
        .reopen(pathrs::flags::OpenFlags::O_RDONLY | pathrs::flags::OpenFlags::O_DIRECTORY)
    {
        Ok(f) => OwnedFd::from(f),
        Err(_) => return Ok(false),
    };
    let dst = rustix::fs::open(
        data,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|x| e(data.display(), x))?;
    if !is_empty(&dst).map_err(|x| e(data.display(), x))? {
        return Ok(false);
    }
    let mut links = HashMap::new();
    copy_dir(&src, &dst, &dst, &mut PathBuf::new(), &mut links, 0)?;
    let st = rustix::fs::fstat(&src).map_err(|x| e(dest, x))?;
    finish(&dst, &st).map_err(|x| e(data.display(), x))?;
    Ok(true)
}

fn is_empty(dir: &OwnedFd) -> rustix::io::Result<bool> {
    let mut d = rustix::fs::Dir::read_from(dir)?;
    while let Some(entry) = d.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            return Ok(false);
        }
    }
    Ok(true)
}

fn times(st: &Stat) -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: st.st_atime as _,
            tv_nsec: st.st_atime_nsec as _,
        },
        last_modification: Timespec {
            tv_sec: st.st_mtime as _,
            tv_nsec: st.st_mtime_nsec as _,
        },
    }
}

/// Owner, then mode (a chown clears set-id bits), then times of an open file or directory.
fn finish(fd: &OwnedFd, st: &Stat) -> rustix::io::Result<()> {
    rustix::fs::fchown(
        fd,
        Some(rustix::fs::Uid::from_raw(st.st_uid)),
        Some(rustix::fs::Gid::from_raw(st.st_gid)),
    )?;
    rustix::fs::fchmod(fd, Mode::from_raw_mode(st.st_mode & 0o7777))?;
    rustix::fs::futimens(fd, &times(st))
}

fn copy_dir(
    src: &OwnedFd,
    dst: &OwnedFd,
    top: &OwnedFd,
    rel: &mut PathBuf,
    links: &mut HashMap<(u64, u64), PathBuf>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "{}: directories nested deeper than {MAX_DEPTH}",
            rel.display()
        ));
    }
    let mut dir = rustix::fs::Dir::read_from(src).map_err(|x| e(rel.display(), x))?;
    while let Some(entry) = dir.read() {
        let entry = entry.map_err(|x| e(rel.display(), x))?;
        let name = entry.file_name().to_owned();
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        rel.push(std::ffi::OsStr::new(
            std::str::from_utf8(bytes).unwrap_or("?"),
        ));
        let r = copy_entry(src, dst, top, &name, rel, links, depth);
        rel.pop();
        r?;
    }
    Ok(())
}

fn copy_entry(
    src: &OwnedFd,
    dst: &OwnedFd,
    top: &OwnedFd,
    name: &std::ffi::CStr,
    rel: &mut PathBuf,
    links: &mut HashMap<(u64, u64), PathBuf>,
    depth: usize,
) -> Result<()> {
    let here = rel.display().to_string();
    let at = |x: rustix::io::Errno| e(&here, x);
    let st = rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW).map_err(at)?;
    let typ = FileType::from_raw_mode(st.st_mode);
    let key = (st.st_dev, st.st_ino);
    if typ != FileType::Directory && st.st_nlink > 1 {
        if let Some(first) = links.get(&key) {
            rustix::fs::linkat(top, first.as_path(), dst, name, AtFlags::empty()).map_err(at)?;
            return Ok(());
        }
    }
    let open_flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match typ {
        FileType::Directory => {
            rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700)).map_err(at)?;
            let s = rustix::fs::openat(src, name, open_flags | OFlags::DIRECTORY, Mode::empty())
                .map_err(at)?;
            let d = rustix::fs::openat(dst, name, open_flags | OFlags::DIRECTORY, Mode::empty())
                .map_err(at)?;
            copy_dir(&s, &d, top, rel, links, depth + 1)?;
            finish(&d, &st).map_err(at)?;
        }
        FileType::RegularFile => {
            let s = rustix::fs::openat(src, name, open_flags, Mode::empty()).map_err(at)?;
            let d = rustix::fs::openat(
                dst,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map_err(at)?;
            let mut from = std::fs::File::from(s);
            let mut to = std::fs::File::from(d);
            std::io::copy(&mut from, &mut to).map_err(|x| e(&here, x))?;
            let d = OwnedFd::from(to);
            finish(&d, &st).map_err(at)?;
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(src, name, Vec::new()).map_err(at)?;
            rustix::fs::symlinkat(target.as_c_str(), dst, name).map_err(at)?;
            after_create(dst.as_fd(), name, &st).map_err(at)?;
        }
        FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice => {
            rustix::fs::mknodat(
                dst,
                name,
                typ,
                Mode::from_raw_mode(st.st_mode & 0o777),
                st.st_rdev,
            )
            .map_err(at)?;
            after_create(dst.as_fd(), name, &st).map_err(at)?;
        }
        // Sockets and anything else belong to a running program, not to data.
        _ => return Ok(()),
    }
    if typ != FileType::Directory && st.st_nlink > 1 {
        links.insert(key, rel.clone());
    }
    Ok(())
}

/// Owner, mode and times of a node that cannot be opened for writing (symlink, fifo,
/// device), by name and without following it.
fn after_create(dir: BorrowedFd<'_>, name: &std::ffi::CStr, st: &Stat) -> rustix::io::Result<()> {
    rustix::fs::chownat(
        dir,
        name,
        Some(rustix::fs::Uid::from_raw(st.st_uid)),
        Some(rustix::fs::Gid::from_raw(st.st_gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
        rustix::fs::chmodat(
            dir,
            name,
            Mode::from_raw_mode(st.st_mode & 0o7777),
            AtFlags::empty(),
        )?;
    }
    rustix::fs::utimensat(dir, name, &times(st), AtFlags::SYMLINK_NOFOLLOW)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn copies_a_tree_with_owners_modes_links_and_symlinks_unfollowed() {
        let tmp = tempfile::tempdir().unwrap();
        let rootfs = tmp.path().join("rootfs");
        let db = rootfs.join("var/lib/db");
        std::fs::create_dir_all(db.join("sub")).unwrap();
        std::fs::write(db.join("sub/file"), b"hello").unwrap();
        std::fs::hard_link(db.join("sub/file"), db.join("again")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", db.join("abs")).unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(db.join("sub/file"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        let root = rustix::process::geteuid().is_root();
        if root {
            std::os::unix::fs::chown(&db, Some(999), Some(999)).unwrap();
        }
        // The path to it is a symlink that must resolve inside the root.
        std::fs::create_dir_all(rootfs.join("data")).unwrap();
        std::os::unix::fs::symlink("/var/lib/db", rootfs.join("data/link")).unwrap();
        let data = tmp.path().join("_data");
        std::fs::create_dir(&data).unwrap();
        assert!(copy_up(&rootfs, "/data/link", &data).unwrap());
        assert_eq!(std::fs::read(data.join("sub/file")).unwrap(), b"hello");
        let m = std::fs::metadata(&data).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o700);
        if root {
            assert_eq!((m.uid(), m.gid()), (999, 999));
        }
        let f = std::fs::metadata(data.join("sub/file")).unwrap();
        assert_eq!(f.mode() & 0o7777, 0o640);
        assert_eq!(
            f.ino(),
            std::fs::metadata(data.join("again")).unwrap().ino()
        );
        assert_eq!(
            std::fs::read_link(data.join("abs")).unwrap(),
            Path::new("/etc/passwd")
        );
        // Not empty any more: a second copy does nothing; a missing path has nothing to copy.
        assert!(!copy_up(&rootfs, "/data/link", &data).unwrap());
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(!copy_up(&rootfs, "/nowhere", &empty).unwrap());
    }

    #[test]
    fn a_symlink_to_a_host_path_is_resolved_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let rootfs = tmp.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::write(rootfs.join("etc/mine"), b"image").unwrap();
        // `/evil` -> the host's /etc would copy the host's files if followed on the host.
        std::os::unix::fs::symlink("/etc", rootfs.join("evil")).unwrap();
        let data = tmp.path().join("_data");
        std::fs::create_dir(&data).unwrap();
        assert!(copy_up(&rootfs, "/evil", &data).unwrap());
        let names: Vec<_> = std::fs::read_dir(&data)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("mine")]);
    }
}
