//! `image load`: docker-archive (`manifest.json`) and OCI image-layout archives.

use std::collections::HashSet;
use std::io::Read;

use serde_json::Value;

use super::stage::Staged;
use super::{blob_diff_id, blob_head, layer_media_type, oci_manifest, ArchiveError, Result};
use crate::engine::image::reference::Reference;
use crate::engine::image::store::{ImageStore, LayerBlob};

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

/// Loads every image of the archive `reader`. `name` is the repository for OCI images named
/// only by a tag. On error no image of the archive stays registered.
pub fn load(
    store: &ImageStore,
    reader: impl Read + 'static,
    name: Option<&str>,
) -> Result<Vec<LoadedImage>> {
    let staged = Staged::read(store, reader)?;
    let found = if staged.has("manifest.json") {
        docker_archive(store, &staged)
    } else if staged.has("index.json") && staged.has("oci-layout") {
        oci_layout(store, &staged, name)
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

fn docker_archive(store: &ImageStore, staged: &Staged) -> Result<Vec<Found>> {
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

/// The blob a descriptor names, checked to hold exactly that digest.
fn descriptor_blob(staged: &Staged, file: &str, d: &Value) -> Result<(String, u64)> {
    let digest = d["digest"]
        .as_str()
        .ok_or_else(|| invalid(file, "a descriptor without digest"))?;
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| invalid(file, format!("malformed digest `{digest}`")))?;
    if alg != "sha256" || hex.contains('/') || hex.contains("..") {
        return Err(invalid(file, format!("unsupported digest `{digest}`")));
    }
    let (blob, size) = staged.get(file, &format!("blobs/{alg}/{hex}"))?;
    if blob != digest {
        return Err(ArchiveError::Store(
            crate::engine::image::store::StoreError::DigestMismatch {
                source_name: format!("blobs/{alg}/{hex}"),
                expected: digest.to_string(),
                actual: blob,
            },
        ));
    }
    Ok((blob, size))
}

fn oci_layout(store: &ImageStore, staged: &Staged, name: Option<&str>) -> Result<Vec<Found>> {
    let index: Value =
        serde_json::from_slice(&staged.read_file(store, "the archive", "index.json")?)
            .map_err(|e| invalid("index.json", e.to_string()))?;
    let mut out = Vec::new();
    let mut pending: Vec<(Value, Option<String>)> = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| (d.clone(), None))
        .collect();
    let mut seen = 0;
    while let Some((d, inherited)) = pending.pop() {
        seen += 1;
        if seen > 1000 {
            return Err(invalid("index.json", "too many nested manifests"));
        }
        let (blob, _) = descriptor_blob(staged, "index.json", &d)?;
        let data = crate::engine::image::store::blobs::read(store.dir(), &blob)?;
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
                    pending.push((m.clone(), ref_name.clone()));
                }
            }
            continue;
        }
        let (config_digest, _) = descriptor_blob(staged, &blob, &doc["config"])?;
        let config = crate::engine::image::store::blobs::read(store.dir(), &config_digest)?;
        let cfg: Value =
            serde_json::from_slice(&config).map_err(|e| invalid(&config_digest, e.to_string()))?;
        let diff_ids: Vec<String> = cfg["rootfs"]["diff_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let descs = doc["layers"].as_array().cloned().unwrap_or_default();
        if descs.len() != diff_ids.len() {
            return Err(invalid(
                &blob,
                format!(
                    "the manifest has {} layers but the config lists {}",
                    descs.len(),
                    diff_ids.len()
                ),
            ));
        }
        let mut layers = Vec::new();
        for (l, diff_id) in descs.iter().zip(diff_ids) {
            let (layer_blob, _) = descriptor_blob(staged, &blob, l)?;
            layers.push(LayerBlob {
                blob: layer_blob,
                diff_id,
            });
        }
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
