//! Unpacks one layer (a tar stream, plain, gzip or zstd) into one directory, safely.
//!
//! Every path is resolved inside the layer root with `pathrs` (openat2 `RESOLVE_IN_ROOT`):
//! the parent directory of an entry is opened (created 0755 root:root when the tar does not
//! list it) through the safe resolver, and the entry itself is then made relative to that
//! directory's descriptor by its single final name, never following a symlink there. So a
//! symlink in the tree can redirect a later entry only to somewhere inside the layer, and a
//! directory entry never changes the mode of what a same-named symlink points to.
//!
//! Docker/OCI whiteouts become overlayfs whiteouts: `.wh.NAME` a 0:0 character device `NAME`,
//! `.wh..wh..opq` the `trusted.overlay.opaque=y` attribute on its directory. Modes (setuid
//! included), numeric owners, mtimes of files and symlinks, and `user.*` and
//! `security.capability` extended attributes are kept. Hostile entries are refused with an
//! error naming them; see [`UnpackError`].

mod entry;
mod stream;

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use thiserror::Error;

use stream::{Guard, Uncompressed};

/// Limits on one layer.
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// Most uncompressed bytes a layer may expand to.
    pub max_uncompressed: u64,
    /// Most uncompressed/compressed ratio, checked once 64 MiB were produced.
    pub max_ratio: u64,
    /// Most tar entries.
    pub max_entries: u64,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            max_uncompressed: 64 << 30,
            max_ratio: 200,
            max_entries: 2_000_000,
        }
    }
}

/// What an unpacked layer was.
#[derive(Debug, Clone)]
pub struct UnpackStats {
    /// "sha256:<hex>" of the uncompressed tar stream: the layer's diff ID.
    pub diff_id: String,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub entries: u64,
}

#[derive(Debug, Error)]
pub enum UnpackError {
    #[error("layer entry `{entry}`: {reason}; the layer is refused")]
    UnsafeEntry { entry: String, reason: String },
    #[error(
        "layer entry `{entry}`: its PAX size ({pax}) and ustar size ({ustar}) disagree; the \
         archive is malformed or crafted"
    )]
    SizeMismatch { entry: String, pax: u64, ustar: u64 },
    #[error("layer has more than {max} entries")]
    TooManyEntries { max: u64 },
    #[error("layer entry `{entry}`: {source}")]
    Entry {
        entry: String,
        source: std::io::Error,
    },
    #[error("layer entry `{entry}`: {source}")]
    Resolve {
        entry: String,
        source: pathrs::error::Error,
    },
    #[error("layer stream is corrupt or truncated: {source}")]
    Stream { source: std::io::Error },
    #[error("cannot open the layer directory {path}: {source}")]
    Dest {
        path: PathBuf,
        source: pathrs::error::Error,
    },
}

/// Unpacks `reader` into `dest`, an existing empty directory. On error the caller removes
/// `dest`; nothing is ever written outside it.
pub fn unpack_layer<R: Read + 'static>(
    reader: R,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackStats, UnpackError> {
    let guard = Guard {
        max_uncompressed: opts.max_uncompressed,
        max_ratio: opts.max_ratio,
    };
    let mut stream =
        Uncompressed::new(reader, guard).map_err(|source| UnpackError::Stream { source })?;
    let root = pathrs::Root::open(dest).map_err(|source| UnpackError::Dest {
        path: dest.to_path_buf(),
        source,
    })?;
    let mut writer = entry::Writer::new(root);
    let mut entries = 0u64;
    {
        let mut archive = tar::Archive::new(&mut stream);
        archive.set_ignore_zeros(false);
        let iter = archive
            .entries()
            .map_err(|source| UnpackError::Stream { source })?;
        for item in iter {
            let mut e = item.map_err(|source| UnpackError::Stream { source })?;
            entries += 1;
            if entries > opts.max_entries {
                return Err(UnpackError::TooManyEntries {
                    max: opts.max_entries,
                });
            }
            let raw = e.path_bytes().into_owned();
            let shown = String::from_utf8_lossy(&raw).into_owned();
            check_sizes(&mut e, &shown)?;
            let path = clean_path(&raw, &shown)?;
            writer.write(&mut e, &path, &shown)?;
        }
    }
    writer.finish()?;
    let (diff_id, compressed_size, uncompressed_size) = stream
        .finish()
        .map_err(|source| UnpackError::Stream { source })?;
    Ok(UnpackStats {
        diff_id,
        compressed_size,
        uncompressed_size,
        entries,
    })
}

/// The digest ("sha256:<hex>") of the uncompressed stream of `reader` (plain, gzip or zstd)
/// and its uncompressed size: a layer blob's diff ID without unpacking it.
pub fn diff_id_of<R: Read + 'static>(reader: R) -> std::io::Result<(String, u64)> {
    let guard = Guard {
        max_uncompressed: u64::MAX,
        max_ratio: u64::MAX,
    };
    let (diff_id, _, size) = Uncompressed::new(reader, guard)?.finish()?;
    Ok((diff_id, size))
}

/// `reader` decompressed (gzip and zstd detected by magic bytes; anything else as is), with
/// the limits of `opts` against decompression bombs.
pub fn decompress<R: Read + 'static>(
    reader: R,
    opts: &UnpackOptions,
) -> std::io::Result<impl Read> {
    Uncompressed::new(
        reader,
        Guard {
            max_uncompressed: opts.max_uncompressed,
            max_ratio: opts.max_ratio,
        },
    )
}

/// The compression of a stream by its first bytes: "gzip", "zstd" or "" (none).
pub fn compression_of(head: &[u8]) -> &'static str {
    if head.starts_with(&[0x1f, 0x8b]) {
        "gzip"
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        "zstd"
    } else {
        ""
    }
}

/// Refuses an entry whose PAX `size` record disagrees with its ustar size field.
fn check_sizes<R: Read>(e: &mut tar::Entry<'_, R>, shown: &str) -> Result<(), UnpackError> {
    let ustar = e.header().size().ok();
    let Ok(Some(pax)) = e.pax_extensions() else {
        return Ok(());
    };
    let mut pax_size = None;
    for ext in pax.flatten() {
        if ext.key() == Ok("size") {
            pax_size = ext.value().ok().and_then(|v| v.trim().parse::<u64>().ok());
        }
    }
    match (pax_size, ustar) {
        // A ustar field of 0 (or all sevens) is how writers say "see the PAX record".
        (Some(p), Some(u)) if u != 0 && u != 0o77777777777 && p != u => {
            Err(UnpackError::SizeMismatch {
                entry: shown.to_string(),
                pax: p,
                ustar: u,
            })
        }
        _ => Ok(()),
    }
}

/// The entry's path as plain components: `./` and empty components dropped; absolute paths
/// and `..` refused. The empty path is the layer root (a `./` entry).
pub(crate) fn clean_path(raw: &[u8], shown: &str) -> Result<PathBuf, UnpackError> {
    use std::os::unix::ffi::OsStrExt;
    let unsafe_entry = |reason: &str| UnpackError::UnsafeEntry {
        entry: shown.to_string(),
        reason: reason.to_string(),
    };
    if raw.contains(&0) {
        return Err(unsafe_entry("the name holds a NUL byte"));
    }
    if raw.starts_with(b"/") {
        return Err(unsafe_entry(
            "absolute paths are not allowed in a layer (names are relative to its root)",
        ));
    }
    let mut out = PathBuf::new();
    for c in Path::new(std::ffi::OsStr::from_bytes(raw)).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(unsafe_entry("`..` would lead outside the layer"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_entry("absolute paths are not allowed in a layer"));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_hostile;
