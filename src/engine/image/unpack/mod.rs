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
//! `security.capability` extended attributes are kept. Sparse files (GNU's old format and its
//! PAX formats 0.0, 0.1 and 1.0) are written with their holes as holes, see [`sparse`]; each
//! counts at its full size against [`UnpackOptions::max_layer_size`]. Hostile entries are
//! refused with an error naming them; see [`UnpackError`].

mod entry;
mod sparse;
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
    /// Most bytes a layer's files may add up to, each sparse file at its full size (its
    /// holes take no disk, but whatever copies the file may write them out).
    pub max_layer_size: u64,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            max_uncompressed: 64 << 30,
            max_ratio: 200,
            max_entries: 2_000_000,
            max_layer_size: 64 << 30,
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
    /// Bytes of the layer's files, sparse files at their full size.
    pub files_size: u64,
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
    #[error(
        "layer entry `{entry}`: a file of {size} bytes (a sparse file counts at its full size) \
         brings the layer's files to {total} bytes, over the limit of {max} bytes per layer"
    )]
    TooLarge {
        entry: String,
        size: u64,
        total: u64,
        max: u64,
    },
    #[error("the layer's tar stream is longer than the limit of {max} bytes per layer")]
    StreamTooLarge { max: u64 },
    #[error(
        "the headers of the entry after {after} (PAX records, long names, a sparse map) take \
         more than {max} bytes; the layer is refused"
    )]
    HeadersTooLarge { after: String, max: u64 },
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
    let meter = stream.meter();
    let root = pathrs::Root::open(dest).map_err(|source| UnpackError::Dest {
        path: dest.to_path_buf(),
        source,
    })?;
    let mut writer = entry::Writer::new(root, meter.clone());
    let mut last = String::new();
    let result = (|| {
        let (entries, files_size) =
            unpack_entries(&mut stream, &mut writer, &meter, opts, &mut last)?;
        writer.finish()?;
        let (diff_id, compressed_size, uncompressed_size) = stream
            .finish()
            .map_err(|source| UnpackError::Stream { source })?;
        Ok(UnpackStats {
            diff_id,
            compressed_size,
            uncompressed_size,
            files_size,
            entries,
        })
    })();
    match result {
        Err(_) if meter.over_limit() => Err(UnpackError::StreamTooLarge {
            max: opts.max_uncompressed,
        }),
        Err(_) if meter.over_headers() => Err(UnpackError::HeadersTooLarge {
            after: if last.is_empty() {
                "the layer's start".to_string()
            } else {
                format!("`{last}`")
            },
            max: stream::MAX_HEADER_BYTES,
        }),
        r => r,
    }
}

/// Writes every entry; returns how many there were and their files' size. `last` is the
/// last entry's name, for errors about what follows it.
fn unpack_entries(
    stream: &mut Uncompressed,
    writer: &mut entry::Writer,
    meter: &stream::Meter,
    opts: &UnpackOptions,
    last: &mut String,
) -> Result<(u64, u64), UnpackError> {
    let mut entries = 0u64;
    let mut files_size = 0u64;
    let mut archive = tar::Archive::new(stream);
    archive.set_ignore_zeros(false);
    let mut iter = archive
        .entries()
        .map_err(|source| UnpackError::Stream { source })?;
    loop {
        meter.headers_start();
        let Some(item) = iter.next() else { break };
        meter.headers_done();
        let mut e = item.map_err(|source| UnpackError::Stream { source })?;
        entries += 1;
        if entries > opts.max_entries {
            return Err(UnpackError::TooManyEntries {
                max: opts.max_entries,
            });
        }
        let mut raw = e.path_bytes().into_owned();
        let mut shown = String::from_utf8_lossy(&raw).into_owned();
        let unsafe_entry = |shown: &str, reason: String| UnpackError::UnsafeEntry {
            entry: shown.to_string(),
            reason,
        };
        let pax_sparse = sparse::pax_sparse(&mut e).map_err(|r| unsafe_entry(&shown, r))?;
        let kind = e.header().entry_type();
        if let Some(s) = &pax_sparse {
            if !matches!(kind, tar::EntryType::Regular | tar::EntryType::Continuous) {
                let reason = format!("GNU sparse records on a {kind:?} entry");
                return Err(unsafe_entry(&shown, reason));
            }
            if let Some(name) = &s.name {
                raw.clone_from(name);
                shown = String::from_utf8_lossy(&raw).into_owned();
            }
        }
        check_sizes(&mut e, &shown)?;
        let size = match (&pax_sparse, kind) {
            (Some(s), _) => s.size,
            (
                None,
                tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse,
            ) => e.size(),
            _ => 0,
        };
        files_size = files_size.saturating_add(size);
        if files_size > opts.max_layer_size {
            return Err(UnpackError::TooLarge {
                entry: shown,
                size,
                total: files_size,
                max: opts.max_layer_size,
            });
        }
        let path = clean_path(&raw, &shown)?;
        writer.write(&mut e, &path, &shown, pax_sparse.as_ref())?;
        // What an entry that is not a file carries is read here, not skipped by the tar
        // reader while it parses the next headers (which have a budget of their own).
        std::io::copy(&mut e, &mut std::io::sink()).map_err(|source| UnpackError::Entry {
            entry: shown.clone(),
            source,
        })?;
        *last = shown;
    }
    meter.headers_done();
    Ok((entries, files_size))
}

/// The digest ("sha256:<hex>") of the uncompressed stream of `reader` (plain, gzip or zstd)
/// and its uncompressed size: a layer blob's diff ID without unpacking it, within the stream
/// limits of `opts` (a decompression bomb is stopped here as in an unpack).
pub fn diff_id_of<R: Read + 'static>(
    reader: R,
    opts: &UnpackOptions,
) -> std::io::Result<(String, u64)> {
    let guard = Guard {
        max_uncompressed: opts.max_uncompressed,
        max_ratio: opts.max_ratio,
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
#[cfg(test)]
mod tests_sparse;
