//! `image load`: docker-archive (`manifest.json`) and OCI image-layout archives.

use std::collections::HashSet;
use std::io::Read;

use serde_json::Value;

use super::stage::Staged;
use super::{blob_diff_id, blob_head, layer_media_type, oci_manifest, ArchiveError, Result};
use crate::engine::image::reference::Reference;
use crate::engine::image::store::{blobs, digest, ImageStore, LayerBlob, StoreError};

/// One image a load registered.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    pub id: String,
    pub tags: Vec<Reference>,
}

/// An image found in an archive, ready to commit.
struct Found {
    manifest: Vec<u8>,
    config: Vec<u8>,
    layers: Vec<LayerBlob>,
    tags: Vec<Reference>,
}

/// Loads every image of the archive `reader` (`source` names it in errors). `name` is the
/// repository for OCI images named only by a tag. On error no image of the archive stays
/// registered.
///
/// Nothing the archive claims is taken on trust: each layer's diff ID is computed from its
/// blob and must be the config's `rootfs.diff_ids` entry, every descriptor's digest and size
/// must be its blob's, and JSON documents over [`blobs::MAX_DOCUMENT`] are refused unread.
pub fn load(
    store: &ImageStore,
    reader: impl Read + 'static,
    name: Option<&str>,
    source: &str,
) -> Result<Vec<LoadedImage>> {
    let staged = Staged::read(store, reader)?;
    let found = if staged.has("manifest.json") {
        docker_archive(store, &staged, source)
    } else if staged.has("index.json") && staged.has("oci-layout") {
        oci_layout(store, &staged, name, source)
    } else {
        Err(ArchiveError::UnknownFormat)
    };
    let found = match found {
        Ok(f) => f,
        Err(e) => {
            staged.discard(store, &HashSet::new());
            return Err(e);
        }
    };
    let mut keep = HashSet::new();
    let mut loaded = Vec::new();
    for f in &found {
        match store.commit(&f.manifest, &f.config, &f.layers, &f.tags) {
            Ok(id) => {
                keep.extend(f.layers.iter().map(|l| l.blob.clone()));
                keep.insert(id.clone());
                keep.insert(format!(
                    "sha256:{}",
                    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&f.manifest))
                ));
                loaded.push(LoadedImage {
                    id,
                    tags: f.tags.clone(),
                });
            }
            Err(e) => {
                // Each image is committed whole or not at all; the ones before stay loaded.
                staged.discard(store, &keep);
                return Err(e.into());
            }
        }
    }
    staged.discard(store, &keep);
    Ok(loaded)
}

fn invalid(file: &str, message: impl Into<String>) -> ArchiveError {
    ArchiveError::Invalid {
        file: file.to_string(),
        message: message.into(),
    }
}

/// The config's `rootfs.diff_ids` must be the diff IDs computed from the layers' blobs, one for
/// one (`image` names the image in errors).
fn check_diff_ids(source: &str, image: &str, config: &[u8], layers: &[LayerBlob]) -> Result<()> {
    let cfg: Value = serde_json::from_slice(config)
        .map_err(|e| invalid(&format!("the config of {image}"), e.to_string()))?;
    let listed = cfg["rootfs"]["diff_ids"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    if listed.len() != layers.len() {
        return Err(invalid(
            image,
            format!(
                "the manifest has {} layers but the config's rootfs.diff_ids lists {}",
                layers.len(),
                listed.len()
            ),
        ));
    }
    for (index, (claimed, layer)) in listed.iter().zip(layers).enumerate() {
        let value = claimed.as_str().unwrap_or_default();
        if !claimed.is_string() || digest::check(value).is_err() {
            return Err(ArchiveError::BadDiffId {
                archive: source.to_string(),
                image: image.to_string(),
                index,
                value: if claimed.is_string() {
                    value.to_string()
                } else {
                    claimed.to_string()
                },
            });
        }
        if value != layer.diff_id {
            return Err(ArchiveError::DiffIdMismatch(Box::new(
                super::DiffIdMismatch {
                    archive: source.to_string(),
                    image: image.to_string(),
                    index,
                    blob: layer.blob.clone(),
                    expected: value.to_string(),
                    actual: layer.diff_id.clone(),
                },
            )));
        }
    }
    Ok(())
}

fn docker_archive(store: &ImageStore, staged: &Staged, source: &str) -> Result<Vec<Found>> {
    let data = staged.read_file(store, "the archive", "manifest.json")?;
    let entries: Value =
        serde_json::from_slice(&data).map_err(|e| invalid("manifest.json", e.to_string()))?;
    let mut out = Vec::new();
    for (i, e) in entries
        .as_array()
        .ok_or_else(|| invalid("manifest.json", "expected a list of images"))?
        .iter()
        .enumerate()
    {
        let at = format!("manifest.json entry {i}");
        let config_path = e["Config"]
            .as_str()
            .ok_or_else(|| invalid(&at, "no `Config`"))?;
        let (config_digest, config_size) = staged.get("manifest.json", config_path)?;
        let config = staged.read_file(store, "manifest.json", config_path)?;
        let mut layers = Vec::new();
        let mut descs = Vec::new();
        for l in e["Layers"].as_array().into_iter().flatten() {
            let path = l
                .as_str()
                .ok_or_else(|| invalid(&at, "a layer path is not a string"))?;
            let (blob, size) = staged.get("manifest.json", path)?;
            let diff_id = blob_diff_id(store, &blob)?;
            let media = layer_media_type(&blob_head(store, &blob)?);
            descs.push((blob.clone(), size, media));
            layers.push(LayerBlob { blob, diff_id });
        }
        check_diff_ids(source, &at, &config, &layers)?;
        let mut tags = Vec::new();
        for t in e["RepoTags"].as_array().into_iter().flatten() {
            let t = t
                .as_str()
                .ok_or_else(|| invalid(&at, "a tag is not a string"))?;
            tags.push(Reference::parse(t).map_err(|e| invalid(&at, e.to_string()))?);
        }
        let manifest = oci_manifest((&config_digest, config_size), &descs);
        out.push(Found {
            manifest,
            config,
            layers,
            tags,
        });
    }
    Ok(out)
}

/// The blob a descriptor names, checked to hold exactly that digest and size (compared before
/// anything of it is read).
fn descriptor_blob(staged: &Staged, source: &str, file: &str, d: &Value) -> Result<(String, u64)> {
    let digest = d["digest"]
        .as_str()
        .ok_or_else(|| invalid(file, "a descriptor without digest"))?;
    let hex = digest::hex(digest).map_err(|e| invalid(file, e.to_string()))?;
    let expected = d["size"].as_u64().ok_or_else(|| {
        invalid(
            file,
            format!(
                "the descriptor of {digest} has no size (`size`, a number of bytes, is required)"
            ),
        )
    })?;
    let path = format!("blobs/sha256/{hex}");
    let (blob, size) = staged.get(file, &path)?;
    if blob != digest {
        return Err(ArchiveError::Store(StoreError::DigestMismatch {
            source_name: path,
            expected: digest.to_string(),
            actual: blob,
        }));
    }
    if size != expected {
        return Err(ArchiveError::DescriptorSize {
            archive: source.to_string(),
            file: file.to_string(),
            digest: blob,
            expected,
            actual: size,
        });
    }
    Ok((blob, size))
}

fn oci_layout(
    store: &ImageStore,
    staged: &Staged,
    name: Option<&str>,
    source: &str,
) -> Result<Vec<Found>> {
    let index: Value =
        serde_json::from_slice(&staged.read_file(store, "the archive", "index.json")?)
            .map_err(|e| invalid("index.json", e.to_string()))?;
    let mut out = Vec::new();
    let mut pending: Vec<(Value, Option<String>, String)> = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| (d.clone(), None, "index.json".to_string()))
        .collect();
    let mut seen = 0;
    while let Some((d, inherited, parent)) = pending.pop() {
        seen += 1;
        if seen > 1000 {
            return Err(invalid("index.json", "too many nested manifests"));
        }
        let (blob, _) = descriptor_blob(staged, source, &parent, &d)?;
        let data = blobs::read(store.dir(), &blob)?;
        let doc: Value =
            serde_json::from_slice(&data).map_err(|e| invalid(&blob, e.to_string()))?;
        let ref_name = d["annotations"]["io.containerd.image.name"]
            .as_str()
            .or(d["annotations"]["org.opencontainers.image.ref.name"].as_str())
            .map(str::to_string)
            .or(inherited);
        if doc.get("manifests").is_some() {
            // A nested index (multi-platform): take the entries for this platform.
            for m in doc["manifests"].as_array().into_iter().flatten() {
                let arch = m["platform"]["architecture"].as_str();
                if arch.is_none() || arch == Some(super::host_arch()) {
                    pending.push((m.clone(), ref_name.clone(), format!("index {blob}")));
                }
            }
            continue;
        }
        let at = format!("manifest {blob}");
        let (config_digest, _) = descriptor_blob(staged, source, &at, &doc["config"])?;
        let config = blobs::read(store.dir(), &config_digest)?;
        let mut layers = Vec::new();
        for l in doc["layers"].as_array().into_iter().flatten() {
            let (layer_blob, _) = descriptor_blob(staged, source, &at, l)?;
            let diff_id = blob_diff_id(store, &layer_blob)?;
            layers.push(LayerBlob {
                blob: layer_blob,
                diff_id,
            });
        }
        check_diff_ids(source, &at, &config, &layers)?;
        let tags = match ref_name {
            None => Vec::new(),
            Some(r) if r.contains('/') || r.contains(':') => {
                vec![Reference::parse(&r).map_err(|e| invalid("index.json", e.to_string()))?]
            }
            Some(tag) => match name {
                Some(repo) => vec![Reference::parse(&format!("{repo}:{tag}"))
                    .map_err(|e| invalid("index.json", e.to_string()))?],
                None => return Err(ArchiveError::NeedsName { tag }),
            },
        };
        out.push(Found {
            manifest: data,
            config,
            layers,
            tags,
        });
    }
    Ok(out)
}
