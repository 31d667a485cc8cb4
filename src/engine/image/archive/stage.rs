//! Reading an archive once: every regular file goes straight into the store as a
//! content-addressed blob (nothing is extracted by name onto the filesystem), and the archive's
//! paths map to those blobs. Paths that leave the archive resolve to nothing.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use super::{ArchiveError, Result};
use crate::engine::image::store::{blobs, ImageStore};
use crate::engine::image::unpack::decompress;

/// What an archive holds, by path.
#[derive(Debug, Default)]
pub struct Staged {
    files: HashMap<String, (String, u64)>,
    links: HashMap<String, String>,
    /// Blobs this staging wrote (removed again unless an image uses them).
    new_blobs: Vec<String>,
}

/// `a/./b/../c` -> `a/c`; `None` when the path is absolute or climbs out of the root.
pub fn normalize(path: &str) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

impl Staged {
    /// Reads the archive (plain, gzip or zstd) into the store's blobs.
    pub fn read(store: &ImageStore, reader: impl Read + 'static) -> Result<Staged> {
        let mut staged = Staged::default();
        let result = staged.read_inner(store, reader);
        if result.is_err() {
            staged.discard(store, &HashSet::new());
        }
        result.map(|()| staged)
    }

    fn read_inner(&mut self, store: &ImageStore, reader: impl Read + 'static) -> Result<()> {
        let limits = store.limits()?.archive();
        let stream = decompress(reader, &limits).map_err(ArchiveError::Stream)?;
        let mut archive = tar::Archive::new(stream);
        for item in archive.entries().map_err(ArchiveError::Stream)? {
            let entry = item.map_err(ArchiveError::Stream)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let bad = |reason: &str| ArchiveError::Entry {
                entry: raw.clone(),
                reason: reason.to_string(),
            };
            let Some(path) = normalize(&raw) else {
                return Err(bad("the path leads outside the archive"));
            };
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let size = entry.size();
                    let (digest, size, new) =
                        store.put_blob(entry, None, Some(size), &format!("archive entry {raw}"))?;
                    if new {
                        self.new_blobs.push(digest.clone());
                    }
                    self.files.insert(path, (digest, size));
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| String::from_utf8_lossy(&t).into_owned())
                        .ok_or_else(|| bad("a link without a target"))?;
                    let joined = if entry.header().entry_type() == tar::EntryType::Link {
                        target
                    } else {
                        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
                        format!("{dir}/{target}")
                    };
                    let resolved = normalize(&joined)
                        .ok_or_else(|| bad("the link leads outside the archive"))?;
                    self.links.insert(path, resolved);
                }
                tar::EntryType::Directory
                | tar::EntryType::XGlobalHeader
                | tar::EntryType::XHeader => {}
                other => {
                    return Err(bad(&format!(
                        "unexpected entry type {other:?} in an image archive"
                    )))
                }
            }
        }
        Ok(())
    }

    /// The blob (digest, size) at `path`, following the archive's links inside it.
    pub fn lookup(&self, path: &str) -> Option<(String, u64)> {
        let mut p = normalize(path)?;
        for _ in 0..40 {
            if let Some(f) = self.files.get(&p) {
                return Some(f.clone());
            }
            p = self.links.get(&p)?.clone();
        }
        None
    }

    /// Like [`Self::lookup`], with the error naming `file` (what pointed there) and `path`.
    pub fn get(&self, file: &str, path: &str) -> Result<(String, u64)> {
        self.lookup(path).ok_or_else(|| ArchiveError::Missing {
            file: file.to_string(),
            path: path.to_string(),
        })
    }

    /// Reads a (small) file of the archive.
    pub fn read_file(&self, store: &ImageStore, file: &str, path: &str) -> Result<Vec<u8>> {
        let (digest, _) = self.get(file, path)?;
        Ok(blobs::read(store.dir(), &digest)?)
    }

    pub fn has(&self, path: &str) -> bool {
        self.lookup(path).is_some()
    }

    /// Removes the blobs this staging wrote that are not in `keep`.
    pub fn discard(&self, store: &ImageStore, keep: &HashSet<String>) {
        for b in &self.new_blobs {
            if !keep.contains(b) {
                forget_blob(store, b);
            }
        }
    }
}

/// Removes a blob this process wrote and no image uses.
pub fn forget_blob(store: &ImageStore, digest: &str) {
    if let Ok(p) = blobs::blob_path(store.dir(), digest) {
        let _ = std::fs::remove_file(p);
    }
}
