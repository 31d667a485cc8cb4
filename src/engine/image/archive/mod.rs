//! Images in and out of files: `import` (a root filesystem tarball becomes a one-layer
//! image), `load` (docker-archive as `docker save` writes it, or an OCI image-layout archive)
//! and `save` (a docker-archive that docker, podman and skopeo load).

mod load;
mod save;
mod stage;

use std::io::Read;

use serde_json::json;
use thiserror::Error;

pub use load::{load, LoadedImage};
pub use save::save;

use super::reference::Reference;
use super::store::{ImageStore, LayerBlob, StoreError};
use super::unpack::{compression_of, diff_id_of};

#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("archive entry `{entry}`: {reason}")]
    Entry { entry: String, reason: String },
    #[error("the archive is corrupt or truncated: {0}")]
    Stream(std::io::Error),
    #[error("{file} names `{path}`, which is not in the archive (paths must stay inside it)")]
    Missing { file: String, path: String },
    #[error("the archive has neither manifest.json (docker save) nor index.json and oci-layout (OCI image layout)")]
    UnknownFormat,
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error(
        "the OCI archive names an image only by the tag `{tag}`; give the repository with \
         `--name REPO` (e.g. --name example.com/app)"
    )]
    NeedsName { tag: String },
    #[error("writing the archive: {0}")]
    Write(std::io::Error),
    #[error("{0}")]
    DiffIdMismatch(Box<DiffIdMismatch>),
    #[error(
        "{archive}: layer {index} of {image}: the image config's rootfs.diff_ids[{index}] `{}` \
         is not a digest (`sha256:` and 64 lower-case hex digits); the archive is corrupt or was \
         tampered with",
        value.escape_debug()
    )]
    BadDiffId {
        archive: String,
        image: String,
        index: usize,
        value: String,
    },
    #[error(
        "{archive}: {file} gives {digest} a size of {expected} bytes, but the blob is {actual} \
         bytes; the archive is corrupt or was tampered with"
    )]
    DescriptorSize {
        archive: String,
        file: String,
        digest: String,
        expected: u64,
        actual: u64,
    },
}

/// A layer whose blob does not unpack to the diff ID the image config gives it.
#[derive(Debug, Error)]
#[error(
    "{archive}: layer {index} of {image} is blob {blob}, which unpacks to {actual}, but the \
     image config's rootfs.diff_ids[{index}] is {expected}; the archive is corrupt or was \
     tampered with"
)]
pub struct DiffIdMismatch {
    pub archive: String,
    pub image: String,
    pub index: usize,
    pub blob: String,
    pub expected: String,
    pub actual: String,
}

pub type Result<T, E = ArchiveError> = std::result::Result<T, E>;

/// The host architecture in Go's spelling (amd64, arm64, ...), as image configs record it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// The OCI media type of a layer blob, from its first bytes.
pub(crate) fn layer_media_type(head: &[u8]) -> &'static str {
    match compression_of(head) {
        "gzip" => "application/vnd.oci.image.layer.v1.tar+gzip",
        "zstd" => "application/vnd.oci.image.layer.v1.tar+zstd",
        _ => "application/vnd.oci.image.layer.v1.tar",
    }
}

/// The first bytes of a blob.
pub(crate) fn blob_head(store: &ImageStore, digest: &str) -> Result<Vec<u8>> {
    let mut head = vec![0u8; 8];
    let mut f = store.open_blob(digest)?;
    let n = f.read(&mut head).map_err(ArchiveError::Stream)?;
    head.truncate(n);
    Ok(head)
}

/// The diff ID of a stored layer blob (its own digest when it is a plain tar), within the
/// store's limits on an archive's stream (a decompression bomb stops here; the finer limits
/// on a layer apply when it is unpacked, naming the entry that crossed them).
pub(crate) fn blob_diff_id(store: &ImageStore, digest: &str) -> Result<String> {
    if compression_of(&blob_head(store, digest)?).is_empty() {
        return Ok(digest.to_string());
    }
    let limits = store.limits()?;
    let (diff_id, _) = diff_id_of(store.open_blob(digest)?, &limits.archive()).map_err(|e| {
        ArchiveError::Entry {
            entry: digest.to_string(),
            reason: format!("cannot decompress the layer: {e}"),
        }
    })?;
    Ok(diff_id)
}

/// An OCI manifest for a config and layer blobs: (manifest bytes).
pub(crate) fn oci_manifest(config: (&str, u64), layers: &[(String, u64, &str)]) -> Vec<u8> {
    let layers: Vec<_> = layers
        .iter()
        .map(|(d, s, t)| json!({"mediaType": t, "digest": d, "size": s}))
        .collect();
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config.0,
            "size": config.1,
        },
        "layers": layers,
    }))
    .expect("serializable")
}

/// `docker import`: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer image
/// named `reference`. Returns the image ID.
pub fn import_rootfs(
    store: &ImageStore,
    reader: impl Read,
    reference: &Reference,
    source: &str,
) -> Result<String> {
    let (blob, size, new) = store.put_blob(reader, None, None, source)?;
    let result = (|| {
        let head = blob_head(store, &blob)?;
        let diff_id = blob_diff_id(store, &blob)?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let config = serde_json::to_vec(&json!({
            "architecture": host_arch(),
            "os": "linux",
            "created": now,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{
                "created": now,
                "created_by": "berth image import",
                "comment": format!("Imported from {source}"),
            }],
        }))
        .expect("serializable");
        let config_digest = format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&config))
        );
        let manifest = oci_manifest(
            (&config_digest, config.len() as u64),
            &[(blob.clone(), size, layer_media_type(&head))],
        );
        let layer = LayerBlob {
            blob: blob.clone(),
            diff_id,
        };
        Ok(store.commit(
            &manifest,
            &config,
            &[layer],
            std::slice::from_ref(reference),
        )?)
    })();
    if result.is_err() && new {
        stage::forget_blob(store, &blob);
    }
    result
}

#[cfg(test)]
mod tests;
