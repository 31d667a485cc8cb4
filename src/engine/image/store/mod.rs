//! The image store under `<state root>/image/`:
//!
//! ```text
//! oci-layout, index.json   OCI image layout; index.json lists one manifest descriptor per tag
//!                          (annotation org.opencontainers.image.ref.name = full reference),
//!                          and one without the annotation for an untagged image
//! blobs/sha256/<hex>       manifests, configs and layer blobs, content-addressed
//! layers/<hex>/diff        each layer unpacked once (keyed by diff ID), see [`layers`]
//! l/<short>                short links to layers/<hex>/diff, for overlay mount options
//! holds/<container id>     the image ID a container uses: its image and layers are kept
//! tmp/                     staging (temporary files, layers being unpacked)
//! lock                     flock'ed around every change
//! ```
//!
//! An image's ID is its config digest, as in Docker. Directories are 0700; unpacked files keep
//! their own modes and owners.

pub mod blobs;
pub mod digest;
mod index;
pub mod layers;
mod limits;
mod query;

use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use index::IndexEntry;
pub use limits::LayerLimits;
pub use query::{HistoryRow, ImageRecord, ImageSummary, Removal};

use crate::engine::image::reference::{Reference, ReferenceError};
use crate::engine::image::unpack::UnpackError;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading {source_name}: {source}")]
    Source {
        source_name: String,
        source: std::io::Error,
    },
    #[error("{source_name}: content digest is {actual}, but {expected} was expected; the data is corrupt or was tampered with")]
    DigestMismatch {
        source_name: String,
        expected: String,
        actual: String,
    },
    #[error("{source_name}: {actual} bytes, but {expected} were expected")]
    SizeMismatch {
        source_name: String,
        expected: u64,
        actual: u64,
    },
    #[error(
        "`{}` is not a digest (`sha256:` and 64 lower-case hex digits); the image or the \
         store is corrupt or was tampered with",
        digest.escape_debug()
    )]
    BadDigest { digest: String },
    #[error(
        "blob {digest} is {size} bytes, over the {max} an image's JSON document (index, \
         manifest, config) may take; the image is refused"
    )]
    DocumentTooLarge { digest: String, size: u64, max: u64 },
    #[error("blob {digest} is missing from the store")]
    MissingBlob { digest: String },
    #[error("layer {layer}: {source}")]
    Unpack { layer: String, source: UnpackError },
    #[error(
        "layer {layer}: {source}; if the image is trusted, raise `{key}` in {} (bytes, or a \
         size such as \"128g\")",
        settings.display(),
        key = limits::KEY
    )]
    LayerTooLarge {
        layer: String,
        source: UnpackError,
        settings: PathBuf,
    },
    #[error("the engine config {}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error("layer {layer} unpacks to {actual}, but the image config says {expected}")]
    DiffIdMismatch {
        layer: String,
        expected: String,
        actual: String,
    },
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("invalid image: {0}")]
    InvalidImage(String),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("no such image: {0}")]
    NotFound(String),
    #[error("`{name}` matches several images ({candidates}); give more of the ID")]
    Ambiguous { name: String, candidates: String },
    #[error("image {image} is used by container(s) {containers}; remove them first or use -f (the image stays until they are gone)")]
    InUse { image: String, containers: String },
    #[error("image {image} has several tags ({tags}); remove them by name or use -f")]
    MultipleTags { image: String, tags: String },
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The image store of one state root.
#[derive(Debug, Clone)]
pub struct ImageStore {
    dir: PathBuf,
    /// The settings file with the layer limits ([`LayerLimits`]), if any.
    settings: Option<PathBuf>,
}

/// Holds the store's lock while alive.
pub struct StoreLock {
    _file: File,
}

/// One layer of an image being committed: its blob and its diff ID.
#[derive(Debug, Clone)]
pub struct LayerBlob {
    pub blob: String,
    pub diff_id: String,
}

impl ImageStore {
    /// Opens (creating it if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<ImageStore> {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true).mode(0o700);
        for sub in ["", "blobs/sha256", "layers", "l", "tmp", "holds"] {
            let p = dir.join(sub);
            b.create(&p).map_err(|e| StoreError::io(&p, e))?;
        }
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        let layout = dir.join("oci-layout");
        if !layout.exists() {
            std::fs::write(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)
                .map_err(|e| StoreError::io(&layout, e))?;
        }
        let store = ImageStore {
            dir: dir.to_path_buf(),
            settings: None,
        };
        if !dir.join("index.json").exists() {
            index::save(dir, &[])?;
        }
        Ok(store)
    }

    /// Takes the layer limits from `settings` (the state root's `config.json`), read whenever
    /// layers come in; without it the defaults apply.
    pub fn with_settings(mut self, settings: PathBuf) -> ImageStore {
        self.settings = Some(settings);
        self
    }

    /// The limits on layers coming in.
    pub fn limits(&self) -> Result<LayerLimits> {
        match &self.settings {
            Some(p) => LayerLimits::load(p),
            None => Ok(LayerLimits {
                unpack: Default::default(),
                settings: self.dir.parent().unwrap_or(&self.dir).join("config.json"),
            }),
        }
    }

    /// The store directory (lower dirs from [`ImageStore::lower_dirs`] are relative to it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the store's exclusive lock (blocking).
    pub fn lock(&self) -> Result<StoreLock> {
        let p = self.dir.join("lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(|e| StoreError::io(&p, e))?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| StoreError::io(&p, e.into()))?;
        Ok(StoreLock { _file: f })
    }

    /// Writes a blob (see [`blobs::put`]).
    pub fn put_blob(
        &self,
        reader: impl std::io::Read,
        expected: Option<&str>,
        size: Option<u64>,
        source: &str,
    ) -> Result<(String, u64, bool)> {
        blobs::put(&self.dir, reader, expected, size, source)
    }

    pub fn open_blob(&self, digest: &str) -> Result<File> {
        blobs::open(&self.dir, digest)
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        blobs::blob_path(&self.dir, digest).is_ok_and(|p| p.exists())
    }

    /// Registers an image: its layers (already stored as blobs) are unpacked unless present,
    /// each checked against the config's diff IDs; config and manifest are stored; `tags` move
    /// to it. On error nothing new stays registered. Returns the image ID.
    pub fn commit(
        &self,
        manifest: &[u8],
        config: &[u8],
        layer_blobs: &[LayerBlob],
        tags: &[Reference],
    ) -> Result<String> {
        let _lock = self.lock()?;
        let mut new_layers = Vec::new();
        let result = self.commit_locked(manifest, config, layer_blobs, tags, &mut new_layers);
        if result.is_err() {
            for diff_id in &new_layers {
                let _ = layers::remove(&self.dir, diff_id);
            }
        }
        result
    }

    fn commit_locked(
        &self,
        manifest: &[u8],
        config: &[u8],
        layer_blobs: &[LayerBlob],
        tags: &[Reference],
        new_layers: &mut Vec<String>,
    ) -> Result<String> {
        let parsed = oci_spec::image::ImageConfiguration::from_reader(config)
            .map_err(|e| StoreError::InvalidImage(format!("image config: {e}")))?;
        let limits = self.limits()?;
        let diff_ids = parsed.rootfs().diff_ids();
        if diff_ids.len() != layer_blobs.len() {
            return Err(StoreError::InvalidImage(format!(
                "the config lists {} layers but the manifest has {}",
                diff_ids.len(),
                layer_blobs.len()
            )));
        }
        self.check_manifest(manifest, config, layer_blobs)?;
        for (layer, diff_id) in layer_blobs.iter().zip(diff_ids) {
            digest::check(diff_id)?;
            if layer.diff_id != *diff_id {
                return Err(StoreError::DiffIdMismatch {
                    layer: layer.blob.clone(),
                    expected: diff_id.clone(),
                    actual: layer.diff_id.clone(),
                });
            }
            if layers::ensure(&self.dir, diff_id, &layer.blob, &limits)? {
                new_layers.push(diff_id.clone());
            }
        }
        let (config_digest, _) = blobs::put_bytes(&self.dir, config)?;
        let (manifest_digest, _) = blobs::put_bytes(&self.dir, manifest)?;
        let mut entries = index::load(&self.dir)?;
        index::attach(&mut entries, &manifest_digest, manifest.len() as u64, tags);
        index::save(&self.dir, &entries)?;
        Ok(config_digest)
    }

    /// The manifest must describe exactly `config` and `layer_blobs`: digests and sizes (what
    /// the store later reads an image's parts by).
    fn check_manifest(
        &self,
        manifest: &[u8],
        config: &[u8],
        layer_blobs: &[LayerBlob],
    ) -> Result<()> {
        let invalid = |m: String| StoreError::InvalidImage(format!("manifest: {m}"));
        let m: serde_json::Value =
            serde_json::from_slice(manifest).map_err(|e| invalid(e.to_string()))?;
        let config_digest = digest::of(config);
        if m["config"]["digest"].as_str() != Some(config_digest.as_str())
            || m["config"]["size"].as_u64() != Some(config.len() as u64)
        {
            return Err(invalid(format!(
                "its config descriptor ({}, {} bytes) is not the config ({config_digest}, {} \
                 bytes)",
                m["config"]["digest"],
                m["config"]["size"],
                config.len()
            )));
        }
        let descs = m["layers"].as_array().map_or(&[][..], Vec::as_slice);
        if descs.len() != layer_blobs.len() {
            return Err(invalid(format!(
                "{} layer descriptors for {} layers",
                descs.len(),
                layer_blobs.len()
            )));
        }
        for (i, (d, l)) in descs.iter().zip(layer_blobs).enumerate() {
            let size = blobs::size(&self.dir, &l.blob)?;
            if d["digest"].as_str() != Some(l.blob.as_str()) || d["size"].as_u64() != Some(size) {
                return Err(invalid(format!(
                    "layer {i}'s descriptor ({}, {} bytes) is not its blob ({}, {size} bytes)",
                    d["digest"], d["size"], l.blob
                )));
            }
        }
        Ok(())
    }

    /// Records that container `container` uses image `image_id` (its layers are kept).
    pub fn hold(&self, container: &str, image_id: &str) -> Result<()> {
        let p = self.dir.join("holds").join(container);
        std::fs::write(&p, image_id).map_err(|e| StoreError::io(&p, e))
    }

    /// Drops container `container`'s hold.
    pub fn release(&self, container: &str) -> Result<()> {
        let p = self.dir.join("holds").join(container);
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(&p, e)),
        }
    }

    /// Containers holding each image: (container, image ID).
    pub(crate) fn holds(&self) -> Vec<(String, String)> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("holds")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let id = std::fs::read_to_string(e.path()).ok()?;
                Some((
                    e.file_name().to_string_lossy().into_owned(),
                    id.trim().to_string(),
                ))
            })
            .collect()
    }

    /// The image's layers as overlay lower dirs, topmost first, relative to [`Self::dir`].
    pub fn lower_dirs(&self, name: &str) -> Result<Vec<PathBuf>> {
        let rec = self.image(name)?;
        rec.diff_ids
            .iter()
            .rev()
            .map(|d| layers::short_path(d))
            .collect()
    }

    /// The image's layer directories (absolute), bottom first.
    pub fn layer_diff_dirs(&self, name: &str) -> Result<Vec<PathBuf>> {
        let rec = self.image(name)?;
        rec.diff_ids
            .iter()
            .map(|d| layers::diff_dir(&self.dir, d))
            .collect()
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_digest;
