//! Content-addressed blobs: `blobs/sha256/<hex>`, written through a temporary file, verified,
//! then renamed into place.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::StoreError;

/// The most bytes of a JSON document (index, manifest, config) read into memory; a larger
/// one is refused before it is read. Docker's registry client takes manifests up to 4 MiB;
/// configs with long histories are larger, but not near this.
pub const MAX_DOCUMENT: u64 = 16 << 20;

/// Where blob `digest` ("sha256:<hex>") lives under `dir`; an error for a malformed digest.
pub fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf, StoreError> {
    Ok(dir.join("blobs/sha256").join(super::digest::hex(digest)?))
}

/// Copies `reader` into a new blob, hashing it; when `expected` is given the content must
/// have that digest (and `size`, if given). Returns (digest, size, newly written).
pub fn put(
    dir: &Path,
    mut reader: impl Read,
    expected: Option<&str>,
    size: Option<u64>,
    source: &str,
) -> Result<(String, u64, bool), StoreError> {
    let tmp_dir = dir.join("tmp");
    let mut tmp = tempfile::Builder::new()
        .prefix("blob-")
        .tempfile_in(&tmp_dir)
        .map_err(|e| StoreError::io(&tmp_dir, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(StoreError::Source {
                    source_name: source.to_string(),
                    source: e,
                })
            }
        };
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])
            .map_err(|e| StoreError::io(tmp.path(), e))?;
        total += n as u64;
    }
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    if let Some(exp) = expected {
        if exp != digest {
            return Err(StoreError::DigestMismatch {
                source_name: source.to_string(),
                expected: exp.to_string(),
                actual: digest,
            });
        }
    }
    if let Some(s) = size {
        if s != total {
            return Err(StoreError::SizeMismatch {
                source_name: source.to_string(),
                expected: s,
                actual: total,
            });
        }
    }
    let path = blob_path(dir, &digest)?;
    if path.exists() {
        return Ok((digest, total, false));
    }
    tmp.persist(&path)
        .map_err(|e| StoreError::io(&path, e.error))?;
    Ok((digest, total, true))
}

/// Writes `data` as a blob.
pub fn put_bytes(dir: &Path, data: &[u8]) -> Result<(String, bool), StoreError> {
    let (digest, _, new) = put(dir, data, None, None, "berth")?;
    Ok((digest, new))
}

/// Opens blob `digest`.
pub fn open(dir: &Path, digest: &str) -> Result<File, StoreError> {
    let path = blob_path(dir, digest)?;
    File::open(&path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            StoreError::MissingBlob {
                digest: digest.to_string(),
            }
        } else {
            StoreError::io(&path, e)
        }
    })
}

/// Reads a (small) blob whole: a JSON document, refused unread when it is over
/// [`MAX_DOCUMENT`] bytes.
pub fn read(dir: &Path, digest: &str) -> Result<Vec<u8>, StoreError> {
    let f = open(dir, digest)?;
    let path = blob_path(dir, digest)?;
    let io = |e| StoreError::io(&path, e);
    let size = f.metadata().map_err(io)?.len();
    if size > MAX_DOCUMENT {
        return Err(StoreError::DocumentTooLarge {
            digest: digest.to_string(),
            size,
            max: MAX_DOCUMENT,
        });
    }
    let mut data = Vec::with_capacity(size as usize);
    f.take(MAX_DOCUMENT + 1)
        .read_to_end(&mut data)
        .map_err(io)?;
    if data.len() as u64 > MAX_DOCUMENT {
        return Err(StoreError::DocumentTooLarge {
            digest: digest.to_string(),
            size: data.len() as u64,
            max: MAX_DOCUMENT,
        });
    }
    Ok(data)
}

/// The size of blob `digest` (without reading it).
pub fn size(dir: &Path, digest: &str) -> Result<u64, StoreError> {
    let f = open(dir, digest)?;
    f.metadata()
        .map(|m| m.len())
        .map_err(|e| StoreError::io(&blob_path(dir, digest).unwrap_or_default(), e))
}
