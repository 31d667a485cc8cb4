//! Unpacked layers: `layers/<diff-id hex>/diff` holds a layer's files, unpacked once and
//! shared by every image and container using it; `l/<short>` links to it (overlay2's trick
//! for keeping mount options short); `layers/<hex>/meta.json` records what it is.
//!
//! Layers are keyed by diff ID, not chain ID: each layer directory is self-contained (overlay
//! stacks them at mount time), so the same layer at different depths is stored once.
//!
//! A diff ID becomes a path only through [`digest::hex`] (`sha256:` and 64 lower-case hex
//! digits), and a layer directory only ever holds what its diff ID was computed from: a blob
//! is unpacked and its stream's digest compared, and a blob offered for a layer already there
//! is decompressed and compared too (once: `meta.json` lists the blobs found to match).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{blobs, digest, LayerLimits, StoreError};
use crate::engine::image::unpack::{diff_id_of, unpack_layer, UnpackError};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerMeta {
    pub diff_id: String,
    /// Bytes of the uncompressed tar (what `image save` writes).
    pub size: u64,
    /// Bytes of the layer's files, sparse files at their full size (what `images` reports);
    /// absent from layers unpacked before it was recorded (the tar's size stands in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_size: Option<u64>,
    /// Name of its link under `l/`.
    pub short: String,
    /// Blobs known to decompress to exactly this layer's tar stream (checked when they came
    /// in); another blob naming this diff ID is checked before it is taken for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<String>,
}

/// `layers/<hex>` of a well-formed diff ID.
pub fn layer_dir(dir: &Path, diff_id: &str) -> Result<PathBuf, StoreError> {
    Ok(dir.join("layers").join(digest::hex(diff_id)?))
}

/// The layer's file tree.
pub fn diff_dir(dir: &Path, diff_id: &str) -> Result<PathBuf, StoreError> {
    Ok(layer_dir(dir, diff_id)?.join("diff"))
}

/// The short link name of a layer: 26 upper-case characters derived from its diff ID.
fn short_name(diff_id: &str) -> String {
    let h = Sha256::digest(format!("berth-layer:{diff_id}").as_bytes());
    hex::encode_upper(h)[..26].to_string()
}

impl LayerMeta {
    /// The size `images` and `image inspect` report: the layer's files.
    pub fn reported_size(&self) -> u64 {
        self.files_size.unwrap_or(self.size)
    }
}

pub fn meta(dir: &Path, diff_id: &str) -> Result<LayerMeta, StoreError> {
    let p = layer_dir(dir, diff_id)?.join("meta.json");
    let data = std::fs::read(&p).map_err(|e| StoreError::io(&p, e))?;
    serde_json::from_slice(&data).map_err(|e| StoreError::Corrupt {
        path: p,
        message: e.to_string(),
    })
}

fn write_meta(path: &Path, meta: &LayerMeta) -> Result<(), StoreError> {
    let tmp = path.with_extension("json.new");
    std::fs::write(&tmp, serde_json::to_vec(meta).expect("serializable"))
        .map_err(|e| StoreError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))
}

/// Unpacks the layer stored as blob `blob` unless it is already there, within `limits`; the
/// unpacked stream's digest must be `diff_id`. A layer already there is taken only if `blob`
/// is known to decompress to it or, checked now, does. Returns whether it was newly made.
/// Nothing is left registered when this fails.
pub fn ensure(
    dir: &Path,
    diff_id: &str,
    blob: &str,
    limits: &LayerLimits,
) -> Result<bool, StoreError> {
    let target = layer_dir(dir, diff_id)?;
    digest::check(blob)?;
    let meta_path = target.join("meta.json");
    if std::fs::symlink_metadata(&target).is_ok() {
        let mut meta = meta(dir, diff_id)?;
        if !meta.blobs.iter().any(|b| b == blob) {
            let (actual, _) =
                diff_id_of(blobs::open(dir, blob)?, &limits.archive()).map_err(|source| {
                    StoreError::Unpack {
                        layer: blob.to_string(),
                        source: UnpackError::Stream { source },
                    }
                })?;
            if actual != diff_id {
                return Err(StoreError::DiffIdMismatch {
                    layer: blob.to_string(),
                    expected: diff_id.to_string(),
                    actual,
                });
            }
            meta.blobs.push(blob.to_string());
            write_meta(&meta_path, &meta)?;
        }
        return Ok(false);
    }
    let tmp_root = dir.join("tmp");
    let tmp = tempfile::Builder::new()
        .prefix("layer-")
        .tempdir_in(&tmp_root)
        .map_err(|e| StoreError::io(&tmp_root, e))?;
    let diff = tmp.path().join("diff");
    std::fs::create_dir(&diff).map_err(|e| StoreError::io(&diff, e))?;
    let file = blobs::open(dir, blob)?;
    let stats = unpack_layer(file, &diff, &limits.unpack).map_err(|source| match source {
        UnpackError::TooLarge { .. } | UnpackError::StreamTooLarge { .. } => {
            StoreError::LayerTooLarge {
                layer: blob.to_string(),
                source,
                settings: limits.settings.clone(),
            }
        }
        source => StoreError::Unpack {
            layer: blob.to_string(),
            source,
        },
    })?;
    if stats.diff_id != diff_id {
        return Err(StoreError::DiffIdMismatch {
            layer: blob.to_string(),
            expected: diff_id.to_string(),
            actual: stats.diff_id,
        });
    }
    let meta = LayerMeta {
        diff_id: diff_id.to_string(),
        size: stats.uncompressed_size,
        files_size: Some(stats.files_size),
        short: short_name(diff_id),
        blobs: vec![blob.to_string()],
    };
    write_meta(&tmp.path().join("meta.json"), &meta)?;
    let tmp_path = tmp.keep();
    if let Err(e) = std::fs::rename(&tmp_path, &target) {
        let _ = std::fs::remove_dir_all(&tmp_path);
        return Err(StoreError::io(&target, e));
    }
    let link = dir.join("l").join(&meta.short);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(
        Path::new("../layers")
            .join(digest::hex(diff_id)?)
            .join("diff"),
        &link,
    )
    .map_err(|e| StoreError::io(&link, e))?;
    tracing::debug!(diff_id, entries = stats.entries, "layer unpacked");
    Ok(true)
}

/// Removes a layer and its link.
pub fn remove(dir: &Path, diff_id: &str) -> Result<(), StoreError> {
    let d = layer_dir(dir, diff_id)?;
    let _ = std::fs::remove_file(dir.join("l").join(short_name(diff_id)));
    match std::fs::remove_dir_all(&d) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(&d, e)),
    }
}

/// Every layer present (directories whose names are not a digest's hex are left out).
pub fn all(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("layers")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(|s| format!("sha256:{s}")))
        .filter(|d| digest::check(d).is_ok())
        .collect()
}

/// The `l/<short>` path of a layer, relative to the store directory.
pub fn short_path(diff_id: &str) -> Result<PathBuf, StoreError> {
    digest::check(diff_id)?;
    Ok(Path::new("l").join(short_name(diff_id)))
}
