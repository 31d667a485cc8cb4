//! Unpacked layers: `layers/<diff-id hex>/diff` holds a layer's files, unpacked once and
//! shared by every image and container using it; `l/<short>` links to it (overlay2's trick
//! for keeping mount options short); `layers/<hex>/meta.json` records what it is.
//!
//! Layers are keyed by diff ID, not chain ID: each layer directory is self-contained (overlay
//! stacks them at mount time), so the same layer at different depths is stored once.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{blobs, LayerLimits, StoreError};
use crate::engine::image::unpack::{unpack_layer, UnpackError};

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
}

fn hex_of(diff_id: &str) -> &str {
    diff_id.strip_prefix("sha256:").unwrap_or(diff_id)
}

pub fn layer_dir(dir: &Path, diff_id: &str) -> PathBuf {
    dir.join("layers").join(hex_of(diff_id))
}

/// The layer's file tree.
pub fn diff_dir(dir: &Path, diff_id: &str) -> PathBuf {
    layer_dir(dir, diff_id).join("diff")
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
    let p = layer_dir(dir, diff_id).join("meta.json");
    let data = std::fs::read(&p).map_err(|e| StoreError::io(&p, e))?;
    serde_json::from_slice(&data).map_err(|e| StoreError::Corrupt {
        path: p,
        message: e.to_string(),
    })
}

pub fn exists(dir: &Path, diff_id: &str) -> bool {
    layer_dir(dir, diff_id).join("meta.json").exists()
}

/// Unpacks the layer stored as blob `blob` unless it is already there, within `limits`; the
/// unpacked stream's digest must be `diff_id`. Returns whether it was newly made. Nothing is
/// left registered when this fails.
pub fn ensure(
    dir: &Path,
    diff_id: &str,
    blob: &str,
    limits: &LayerLimits,
) -> Result<bool, StoreError> {
    if exists(dir, diff_id) {
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
    };
    let meta_path = tmp.path().join("meta.json");
    std::fs::write(&meta_path, serde_json::to_vec(&meta).expect("serializable"))
        .map_err(|e| StoreError::io(&meta_path, e))?;
    let target = layer_dir(dir, diff_id);
    let tmp_path = tmp.keep();
    if let Err(e) = std::fs::rename(&tmp_path, &target) {
        let _ = std::fs::remove_dir_all(&tmp_path);
        return Err(StoreError::io(&target, e));
    }
    let link = dir.join("l").join(&meta.short);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(
        Path::new("../layers").join(hex_of(diff_id)).join("diff"),
        &link,
    )
    .map_err(|e| StoreError::io(&link, e))?;
    tracing::debug!(diff_id, entries = stats.entries, "layer unpacked");
    Ok(true)
}

/// Removes a layer and its link.
pub fn remove(dir: &Path, diff_id: &str) -> Result<(), StoreError> {
    let _ = std::fs::remove_file(dir.join("l").join(short_name(diff_id)));
    let d = layer_dir(dir, diff_id);
    match std::fs::remove_dir_all(&d) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(&d, e)),
    }
}

/// Every layer present.
pub fn all(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("layers")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(|s| format!("sha256:{s}")))
        .collect()
}

/// The `l/<short>` path of a layer, relative to the store directory.
pub fn short_path(diff_id: &str) -> PathBuf {
    Path::new("l").join(short_name(diff_id))
}
