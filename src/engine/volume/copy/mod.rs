//! Copy-up: an empty volume gets the image's content at its mount point, as Docker copies
//! it: files, directories, symlinks (never followed), hard links, fifos and device nodes,
//! with owner, mode and times; the volume's top directory takes the owner and mode of the
//! image's directory (a database image's 999:999 0700 data directory stays so).
//!
//! The image side is read through `pathrs` (the mount point and every symlink on the way
//! resolve inside the root filesystem, never on the host) and then by descriptor. The volume
//! side is written as if a container were changing it meanwhile (the engine fills a volume
//! only while no running container has it mounted writable, but a copy must not depend on
//! that): every node is made by a single name in a directory held open, and everything done
//! to it afterwards goes through a descriptor of that node, opened without following
//! symlinks and checked to be what was made:
//! - a file is created with `O_CREAT|O_EXCL|O_NOFOLLOW` and set up through that descriptor;
//! - a symlink, fifo or device node is reopened path-only (`O_PATH|O_NOFOLLOW`), checked,
//!   and its owner, mode and times set through that descriptor (`AT_EMPTY_PATH`, the mode
//!   through `/proc/self/fd/N`: `chmod` has no form that leaves a final symlink alone);
//! - a second name of a file (hard link) is made from the first copy found again one name at
//!   a time from the volume's top directory, none of them followed if a symlink, and checked
//!   to be the same inode as that first copy.
//!
//! Nothing is ever resolved as a multi-component path on the volume side. Extended
//! attributes are not copied.

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::Timespec;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat, Timestamps};
use rustix::io::Errno;

/// Directories nested deeper than this are refused (each level holds descriptors).
const MAX_DEPTH: usize = 256;

type Result<T> = std::result::Result<T, String>;

fn e(what: impl std::fmt::Display, err: impl std::fmt::Display) -> String {
    format!("{what}: {err}")
}

/// What a copy step found instead of the node it made.
fn replaced(here: &str) -> String {
    format!(
        "{here}: replaced while the volume was being filled (something else writes to the \
         volume's directory): stop what uses it and start the container again"
    )
}

/// A point of the copy where a test changes the volume, as something writing to the
/// volume's directory at the same time could.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// A directory, symlink, fifo or device node was made; nothing else done to it yet.
    Made,
    /// An entry is complete (a directory with everything in it).
    Done,
}

/// Copies the image's directory at `dest` (inside `rootfs`) into the empty directory `data`.
/// `Ok(false)` when there is nothing to copy: no such path in the image, not a directory, or
/// `data` not empty.
pub fn copy_up(rootfs: &Path, dest: &str, data: &Path) -> Result<bool> {
    copy_up_watched(rootfs, dest, data, &mut |_, _| {})
}

/// [`copy_up`], calling `watch` at each [`Step`] with the entry's path in the volume.
pub(crate) fn copy_up_watched(
    rootfs: &Path,
    dest: &str,
    data: &Path,
    watch: &mut dyn FnMut(&Path, Step),
) -> Result<bool> {
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
    let mut copy = Copy {
        top: dst,
        links: HashMap::new(),
        names: Vec::new(),
        rel: PathBuf::new(),
        watch,
    };
    let top = copy.top.try_clone().map_err(|x| e(data.display(), x))?;
    copy.dir(&src, &top)?;
    let st = rustix::fs::fstat(&src).map_err(|x| e(dest, x))?;
    finish(&top, &st).map_err(|x| e(data.display(), x))?;
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

/// The first copy of a file with several names.
struct First {
    /// Its names from the volume's top directory.
    names: Vec<CString>,
    /// The copy's device and inode.
    copy: (u64, u64),
}

/// One copy in progress.
struct Copy<'w> {
    /// The volume's top directory.
    top: OwnedFd,
    /// The first copy of each file with several names, by the image's device and inode.
    links: HashMap<(u64, u64), First>,
    /// The names from the top directory to the entry being copied.
    names: Vec<CString>,
    /// The same as a path, for messages and [`Step`]s.
    rel: PathBuf,
    watch: &'w mut dyn FnMut(&Path, Step),
}

impl Copy<'_> {
    fn dir(&mut self, src: &OwnedFd, dst: &OwnedFd) -> Result<()> {
        if self.names.len() > MAX_DEPTH {
            return Err(format!(
                "{}: directories nested deeper than {MAX_DEPTH}",
                self.rel.display()
            ));
        }
        let mut dir = rustix::fs::Dir::read_from(src).map_err(|x| e(self.rel.display(), x))?;
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(|x| e(self.rel.display(), x))?;
            let name = entry.file_name().to_owned();
            let bytes = name.to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            self.rel.push(OsStr::from_bytes(bytes));
            self.names.push(name.clone());
            let r = self.entry(src, dst, &name);
            if r.is_ok() {
                (self.watch)(&self.rel, Step::Done);
            }
            self.names.pop();
            self.rel.pop();
            r?;
        }
        Ok(())
    }

    fn entry(&mut self, src: &OwnedFd, dst: &OwnedFd, name: &CStr) -> Result<()> {
        let here = self.rel.display().to_string();
        let at = |x: Errno| e(&here, x);
        let st = rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW).map_err(at)?;
        let typ = FileType::from_raw_mode(st.st_mode);
        let key = (st.st_dev, st.st_ino);
        let linked = typ != FileType::Directory && st.st_nlink > 1;
        if linked {
            if let Some(first) = self.links.get(&key) {
                return link(&self.top, first, dst, name, &here);
            }
        }
        let open_flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let made = match typ {
            FileType::Directory => {
                rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700)).map_err(at)?;
                (self.watch)(&self.rel, Step::Made);
                let s =
                    rustix::fs::openat(src, name, open_flags | OFlags::DIRECTORY, Mode::empty())
                        .map_err(at)?;
                let d =
                    rustix::fs::openat(dst, name, open_flags | OFlags::DIRECTORY, Mode::empty())
                        .map_err(at)?;
                self.dir(&s, &d)?;
                finish(&d, &st).map_err(at)?;
                return Ok(());
            }
            FileType::RegularFile => {
                let s = rustix::fs::openat(src, name, open_flags, Mode::empty()).map_err(at)?;
                let d = rustix::fs::openat(
                    dst,
                    name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(at)?;
                let mut from = std::fs::File::from(s);
                let mut to = std::fs::File::from(d);
                std::io::copy(&mut from, &mut to).map_err(|x| e(&here, x))?;
                let d = OwnedFd::from(to);
                finish(&d, &st).map_err(at)?;
                rustix::fs::fstat(&d).map_err(at)?
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(src, name, Vec::new()).map_err(at)?;
                rustix::fs::symlinkat(target.as_c_str(), dst, name).map_err(at)?;
                (self.watch)(&self.rel, Step::Made);
                after_create(dst.as_fd(), name, &st, &here)?
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
                (self.watch)(&self.rel, Step::Made);
                after_create(dst.as_fd(), name, &st, &here)?
            }
            // Sockets and anything else belong to a running program, not to data.
            _ => return Ok(()),
        };
        if linked {
            let first = First {
                names: self.names.clone(),
                copy: (made.st_dev, made.st_ino),
            };
            self.links.insert(key, first);
        }
        Ok(())
    }
}

/// `name` in `dst` made another name of `first`'s copy, which is found again one name at a
/// time from `top` (no symlink followed) and must still be the inode copied.
fn link(top: &OwnedFd, first: &First, dst: &OwnedFd, name: &CStr, here: &str) -> Result<()> {
    let at = |x: Errno| e(here, x);
    let Some((last, dirs)) = first.names.split_last() else {
        return Err(replaced(here));
    };
    let path_only = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut parent: Option<OwnedFd> = None;
    for dir in dirs {
        let from = parent.as_ref().map_or(top.as_fd(), |p| p.as_fd());
        let next = rustix::fs::openat(from, dir, path_only | OFlags::DIRECTORY, Mode::empty());
        parent = Some(next.map_err(|x| match x {
            // A symlink (or anything else) where the copy made a directory.
            Errno::LOOP | Errno::NOTDIR | Errno::NOENT => replaced(here),
            x => at(x),
        })?);
    }
    let from = parent.as_ref().map_or(top.as_fd(), |p| p.as_fd());
    let node = rustix::fs::openat(from, last, path_only, Mode::empty()).map_err(|x| match x {
        Errno::NOENT => replaced(here),
        x => at(x),
    })?;
    let st = rustix::fs::fstat(&node).map_err(at)?;
    if (st.st_dev, st.st_ino) != first.copy {
        return Err(replaced(here));
    }
    rustix::fs::linkat(&node, c"", dst, name, AtFlags::EMPTY_PATH).map_err(at)
}

/// Owner, mode and times of a symlink, fifo or device node just made as `name` in `dir`
/// (none of which can be opened for writing), through a path-only descriptor of it that
/// must be of the type made; its status afterwards.
fn after_create(dir: BorrowedFd<'_>, name: &CStr, st: &Stat, here: &str) -> Result<Stat> {
    let at = |x: Errno| e(here, x);
    let typ = FileType::from_raw_mode(st.st_mode);
    let node = rustix::fs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|x| match x {
        Errno::NOENT => replaced(here),
        x => at(x),
    })?;
    let now = rustix::fs::fstat(&node).map_err(at)?;
    let same = FileType::from_raw_mode(now.st_mode) == typ
        && (typ == FileType::Symlink || typ == FileType::Fifo || now.st_rdev == st.st_rdev);
    if !same {
        return Err(replaced(here));
    }
    rustix::fs::chownat(
        &node,
        c"",
        Some(rustix::fs::Uid::from_raw(st.st_uid)),
        Some(rustix::fs::Gid::from_raw(st.st_gid)),
        AtFlags::EMPTY_PATH,
    )
    .map_err(at)?;
    if typ != FileType::Symlink {
        // The node itself (the descriptor's target), never what a name now points at.
        let path = format!("/proc/self/fd/{}", node.as_raw_fd());
        rustix::fs::chmod(path.as_str(), Mode::from_raw_mode(st.st_mode & 0o7777)).map_err(at)?;
    }
    match rustix::fs::utimensat(&node, c"", &times(st), AtFlags::EMPTY_PATH) {
        // Kernels before 5.8 take no AT_EMPTY_PATH here: by name, not following a symlink
        // (at worst the times of another node of the volume).
        Err(Errno::INVAL) => {
            rustix::fs::utimensat(dir, name, &times(st), AtFlags::SYMLINK_NOFOLLOW)
        }
        other => other,
    }
    .map_err(at)?;
    rustix::fs::fstat(&node).map_err(at)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_race;
