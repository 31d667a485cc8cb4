//! Writing one tar entry under the layer root: parent through the safe resolver, the entry by
//! its final name relative to the parent's descriptor, metadata applied to what was made.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use pathrs::flags::OpenFlags;
use pathrs::{Handle, Root};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Timestamps, XattrFlags};

use super::sparse::{self, PaxSparse};
use super::stream::Meter;
use super::{clean_path, UnpackError};

/// Writes entries into one layer root.
pub struct Writer {
    root: Root,
    /// The last parent directory opened, reused while entries stay in it; dropped whenever
    /// the tree's shape changes (anything but a plain file written).
    parent: Option<(PathBuf, Handle)>,
    /// The stream's meter: which bytes of a file the tar reader made up (holes).
    meter: Rc<Meter>,
}

impl Writer {
    pub fn new(root: Root, meter: Rc<Meter>) -> Writer {
        Writer {
            root,
            parent: None,
            meter,
        }
    }

    /// Nothing is deferred today; kept so directory mtimes can be applied last later.
    pub fn finish(&mut self) -> Result<(), UnpackError> {
        Ok(())
    }

    /// Writes entry `e` at `path`; `sparse` is its PAX sparse map, if it has one.
    pub fn write<R: Read>(
        &mut self,
        e: &mut tar::Entry<'_, R>,
        path: &Path,
        shown: &str,
        sparse: Option<&PaxSparse>,
    ) -> Result<(), UnpackError> {
        let kind = e.header().entry_type();
        let unsafe_entry = |reason: &str| UnpackError::UnsafeEntry {
            entry: shown.to_string(),
            reason: reason.to_string(),
        };
        let io_err = |source: io::Error| UnpackError::Entry {
            entry: shown.to_string(),
            source,
        };
        if kind == tar::EntryType::XGlobalHeader {
            return Ok(());
        }
        let Some(name) = path.file_name() else {
            // The layer root itself (`./`): only a directory entry may describe it.
            if kind != tar::EntryType::Directory {
                return Err(unsafe_entry("an entry named `.` must be a directory"));
            }
            let handle = self.resolve(Path::new("."), shown)?;
            let dir = handle
                .reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)
                .map_err(|source| resolve_err(shown, source))?;
            return apply_meta(dir.as_fd(), e, false).map_err(io_err);
        };
        let parent_path = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let name_bytes = name.as_bytes();
        if let Some(target) = name_bytes.strip_prefix(b".wh.") {
            return self.whiteout(&parent_path, target, shown);
        }
        if !matches!(
            kind,
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse
        ) {
            // Anything but a plain file may change what later paths resolve to.
            self.parent = None;
        }
        let parent = self.parent_dir(&parent_path, shown)?;
        let existing = rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW).ok();
        let existing_dir = existing
            .as_ref()
            .is_some_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
        match kind {
            tar::EntryType::Directory => {
                if existing.is_some() && !existing_dir {
                    rfs::unlinkat(parent, name, AtFlags::empty()).map_err(|e| io_err(e.into()))?;
                }
                if !existing_dir {
                    rfs::mkdirat(parent, name, Mode::from_raw_mode(0o700))
                        .map_err(|e| io_err(e.into()))?;
                }
                let dir = rfs::openat(
                    parent,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| io_err(e.into()))?;
                apply_meta(dir.as_fd(), e, false).map_err(io_err)
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                self.clear(parent_path.as_path(), name, existing_dir, shown)?;
                let parent = self.parent_dir(&parent_path, shown)?;
                let fd = rfs::openat(
                    parent,
                    name,
                    OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::WRONLY
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| io_err(e.into()))?;
                let file = File::from(fd);
                match sparse {
                    None => {
                        sparse::write_contents(e, &file, &self.meter).map_err(io_err)?;
                    }
                    Some(s) => {
                        let data = e.size();
                        sparse::write_pax(e, data, &file, s).map_err(|err| match err {
                            sparse::WriteError::Malformed(reason) => unsafe_entry(&reason),
                            sparse::WriteError::Io(source) => io_err(source),
                        })?;
                    }
                }
                apply_meta(file.as_fd(), e, true).map_err(io_err)
            }
            tar::EntryType::Symlink => {
                let target = e
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_entry("a symlink without a target"))?
                    .into_owned();
                self.clear(parent_path.as_path(), name, existing_dir, shown)?;
                let parent = self.parent_dir(&parent_path, shown)?;
                rfs::symlinkat(OsStr::from_bytes(&target), parent, name)
                    .map_err(|e| io_err(e.into()))?;
                let h = e.header();
                let (uid, gid) = owner(h).map_err(io_err)?;
                rfs::chownat(
                    parent,
                    name,
                    Some(uid),
                    Some(gid),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(|e| io_err(e.into()))?;
                let t = times(h);
                rfs::utimensat(parent, name, &t, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| io_err(e.into()))?;
                self.parent = None;
                Ok(())
            }
            tar::EntryType::Link => {
                let raw = e
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_entry("a hard link without a target"))?
                    .into_owned();
                let target_shown = String::from_utf8_lossy(&raw).into_owned();
                let target_path = clean_path(&raw, &target_shown).map_err(|_| {
                    unsafe_entry(&format!(
                        "hard link target `{target_shown}` leads outside the layer"
                    ))
                })?;
                if target_path == path {
                    return Ok(());
                }
                let target = self.root.resolve_nofollow(&target_path).map_err(|_| {
                    unsafe_entry(&format!(
                        "hard link target `{target_shown}` is not in the layer (a hard link \
                         must name an earlier entry of the same layer)"
                    ))
                })?;
                let st = rfs::fstat(&target).map_err(|e| io_err(e.into()))?;
                if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                    return Err(unsafe_entry(&format!(
                        "hard link target `{target_shown}` is a directory"
                    )));
                }
                self.clear(parent_path.as_path(), name, existing_dir, shown)?;
                let parent = self.parent_dir(&parent_path, shown)?;
                rfs::linkat(&target, "", parent, name, AtFlags::EMPTY_PATH)
                    .map_err(|e| io_err(e.into()))?;
                self.parent = None;
                Ok(())
            }
            tar::EntryType::Fifo => {
                self.clear(parent_path.as_path(), name, existing_dir, shown)?;
                let parent = self.parent_dir(&parent_path, shown)?;
                let mode = Mode::from_raw_mode(mode_bits(e.header()));
                rfs::mknodat(parent, name, FileType::Fifo, mode, 0)
                    .map_err(|e| io_err(e.into()))?;
                let (uid, gid) = owner(e.header()).map_err(io_err)?;
                rfs::chownat(
                    parent,
                    name,
                    Some(uid),
                    Some(gid),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(|e| io_err(e.into()))?;
                rfs::chmodat(parent, name, mode, AtFlags::empty()).map_err(|e| io_err(e.into()))
            }
            tar::EntryType::Char | tar::EntryType::Block => Err(unsafe_entry(
                "device nodes are not allowed in image layers (a container gets its devices from \
                 the runtime)",
            )),
            other => Err(unsafe_entry(&format!(
                "unsupported tar entry type {other:?}"
            ))),
        }
    }

    /// Makes way for a new entry at `parent/name`: an existing directory is removed with its
    /// content, anything else unlinked.
    fn clear(
        &mut self,
        parent_path: &Path,
        name: &OsStr,
        existing_dir: bool,
        shown: &str,
    ) -> Result<(), UnpackError> {
        if existing_dir {
            self.parent = None;
            self.root
                .remove_all(parent_path.join(name))
                .map_err(|source| resolve_err(shown, source))?;
            return Ok(());
        }
        let parent = self.parent_dir(parent_path, shown)?;
        match rfs::unlinkat(parent, name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(UnpackError::Entry {
                entry: shown.to_string(),
                source: e.into(),
            }),
        }
    }

    fn whiteout(
        &mut self,
        parent_path: &Path,
        target: &[u8],
        shown: &str,
    ) -> Result<(), UnpackError> {
        let io_err = |source: io::Error| UnpackError::Entry {
            entry: shown.to_string(),
            source,
        };
        self.parent = None;
        if target == b".wh..opq" {
            let handle = self.resolve_dir(parent_path, shown)?;
            let dir = handle
                .reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)
                .map_err(|source| resolve_err(shown, source))?;
            return rfs::fsetxattr(&dir, "trusted.overlay.opaque", b"y", XattrFlags::empty())
                .map_err(|e| io_err(e.into()));
        }
        if target.starts_with(b".wh.") {
            tracing::debug!(entry = shown, "ignoring aufs metadata entry");
            return Ok(());
        }
        if target.is_empty() || target == b"." || target == b".." {
            return Err(UnpackError::UnsafeEntry {
                entry: shown.to_string(),
                reason: "malformed whiteout: it names no file".to_string(),
            });
        }
        let name = OsStr::from_bytes(target);
        let parent = self.parent_dir(parent_path, shown)?;
        let existing_dir = rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
        self.clear(parent_path, name, existing_dir, shown)?;
        let parent = self.parent_dir(parent_path, shown)?;
        rfs::mknodat(parent, name, FileType::CharacterDevice, Mode::empty(), 0)
            .map_err(|e| io_err(e.into()))?;
        self.parent = None;
        Ok(())
    }

    /// The parent directory's descriptor, created (0755) through the safe resolver if missing.
    fn parent_dir(&mut self, parent: &Path, shown: &str) -> Result<BorrowedFd<'_>, UnpackError> {
        let cached = matches!(&self.parent, Some((p, _)) if p == parent);
        if !cached {
            let handle = self.resolve_dir(parent, shown)?;
            self.parent = Some((parent.to_path_buf(), handle));
        }
        Ok(self
            .parent
            .as_ref()
            .map(|(_, h)| h.as_fd())
            .expect("set above"))
    }

    fn resolve_dir(&self, parent: &Path, shown: &str) -> Result<Handle, UnpackError> {
        let p = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        use std::os::unix::fs::PermissionsExt;
        self.root
            .mkdir_all(p, &std::fs::Permissions::from_mode(0o755))
            .map_err(|source| resolve_err(shown, source))
    }

    fn resolve(&self, p: &Path, shown: &str) -> Result<Handle, UnpackError> {
        self.root
            .resolve(p)
            .map_err(|source| resolve_err(shown, source))
    }
}

fn resolve_err(shown: &str, source: pathrs::error::Error) -> UnpackError {
    UnpackError::Resolve {
        entry: shown.to_string(),
        source,
    }
}

fn mode_bits(h: &tar::Header) -> u32 {
    h.mode().unwrap_or(0o644) & 0o7777
}

fn owner(h: &tar::Header) -> io::Result<(rfs::Uid, rfs::Gid)> {
    // An empty numeric field reads as 0, as Go's archive/tar (Docker) reads it.
    let blank = |f: &[u8]| f.iter().all(|b| *b == 0 || *b == b' ');
    let uid = if blank(&h.as_old().uid) { 0 } else { h.uid()? };
    let gid = if blank(&h.as_old().gid) { 0 } else { h.gid()? };
    if uid >= u64::from(u32::MAX) || gid >= u64::from(u32::MAX) {
        return Err(io::Error::other(format!(
            "owner {uid}:{gid} is out of range"
        )));
    }
    Ok((
        rfs::Uid::from_raw(uid as u32),
        rfs::Gid::from_raw(gid as u32),
    ))
}

fn times(h: &tar::Header) -> Timestamps {
    let secs = h.mtime().unwrap_or(0).min(i64::MAX as u64) as i64;
    let t = rustix::fs::Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Owner, then mode (chown clears setuid), extended attributes, and (for files) mtime.
fn apply_meta<R: Read>(
    fd: BorrowedFd<'_>,
    e: &mut tar::Entry<'_, R>,
    mtime: bool,
) -> io::Result<()> {
    let (uid, gid) = owner(e.header())?;
    rfs::fchown(fd, Some(uid), Some(gid))?;
    rfs::fchmod(fd, Mode::from_raw_mode(mode_bits(e.header())))?;
    if let Ok(Some(pax)) = e.pax_extensions() {
        for ext in pax.flatten() {
            let Ok(key) = ext.key() else { continue };
            let Some(attr) = key.strip_prefix("SCHILY.xattr.") else {
                continue;
            };
            if attr.starts_with("user.") || attr == "security.capability" {
                rfs::fsetxattr(fd, attr, ext.value_bytes(), XattrFlags::empty())?;
            } else {
                tracing::debug!(attr, "extended attribute not restored");
            }
        }
    }
    if mtime {
        rfs::futimens(fd, &times(e.header()))?;
    }
    Ok(())
}
