//! Finding images by name or ID, listing, tagging, removing, pruning, and the Docker-shaped
//! views (inspect, history).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::{blobs, digest, index, layers, ImageStore, Result, StoreError};
use crate::engine::image::reference::Reference;

/// One image as the store knows it.
#[derive(Debug, Clone)]
pub struct ImageRecord {
    /// "sha256:..." of the config: the image ID.
    pub id: String,
    pub manifest_digest: String,
    /// The manifest's layer descriptors: (blob digest, media type), bottom first.
    pub layer_blobs: Vec<(String, String)>,
    /// The config as stored (Docker fields such as Healthcheck included).
    pub config: Value,
    pub diff_ids: Vec<String>,
    pub tags: Vec<Reference>,
    /// Uncompressed size of all layers.
    pub size: u64,
}

/// A row of `image ls`.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    pub id: String,
    /// `None` for an untagged image.
    pub reference: Option<Reference>,
    pub created: Option<String>,
    pub size: u64,
}

/// A row of `image history`.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub created: Option<String>,
    pub created_by: String,
    /// Bytes the step's layer adds (0 for a step without a layer).
    pub size: u64,
    pub comment: String,
}

/// What `image rm` and `image prune` did, as Docker prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    Untagged(String),
    Deleted(String),
}

impl std::fmt::Display for Removal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Removal::Untagged(r) => write!(f, "Untagged: {r}"),
            Removal::Deleted(id) => write!(f, "Deleted: {id}"),
        }
    }
}

impl ImageStore {
    fn config_digest_of(&self, manifest: &str) -> Result<String> {
        let m: Value = serde_json::from_slice(&blobs::read(&self.dir, manifest)?)
            .map_err(|e| StoreError::InvalidImage(format!("manifest {manifest}: {e}")))?;
        m["config"]["digest"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| StoreError::InvalidImage(format!("manifest {manifest} has no config")))
    }

    /// The manifest digest `name` refers to: a tag, `name@digest`, or an image ID or unique
    /// ID prefix (with or without `sha256:`).
    pub fn resolve(&self, name: &str) -> Result<String> {
        let entries = index::load(&self.dir)?;
        if let Ok(r) = Reference::parse(name) {
            if let Some(d) = &r.digest {
                if let Some(e) = entries.iter().find(|e| &e.manifest == d) {
                    return Ok(e.manifest.clone());
                }
            } else if let Some(e) = entries.iter().find(|e| e.reference.as_ref() == Some(&r)) {
                return Ok(e.manifest.clone());
            }
        }
        let prefix = name.strip_prefix("sha256:").unwrap_or(name);
        if !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut found = BTreeSet::new();
            for e in &entries {
                let id = self.config_digest_of(&e.manifest)?;
                if digest::hex(&id).is_ok_and(|hex| hex.starts_with(prefix)) {
                    found.insert(e.manifest.clone());
                }
            }
            match found.len() {
                1 => return Ok(found.into_iter().next().expect("one")),
                0 => {}
                _ => {
                    return Err(StoreError::Ambiguous {
                        name: name.to_string(),
                        candidates: found.into_iter().collect::<Vec<_>>().join(", "),
                    })
                }
            }
        }
        Err(StoreError::NotFound(name.to_string()))
    }

    /// The image `name` refers to.
    pub fn image(&self, name: &str) -> Result<ImageRecord> {
        let manifest = self.resolve(name)?;
        self.record(&manifest)
    }

    fn record(&self, manifest_digest: &str) -> Result<ImageRecord> {
        let m: Value = serde_json::from_slice(&blobs::read(&self.dir, manifest_digest)?)
            .map_err(|e| StoreError::InvalidImage(format!("manifest {manifest_digest}: {e}")))?;
        let id = self.config_digest_of(manifest_digest)?;
        let config: Value = serde_json::from_slice(&blobs::read(&self.dir, &id)?)
            .map_err(|e| StoreError::InvalidImage(format!("config {id}: {e}")))?;
        let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str().map(str::to_string))
            .collect();
        let layer_blobs = m["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| {
                (
                    l["digest"].as_str().unwrap_or_default().to_string(),
                    l["mediaType"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let size = diff_ids
            .iter()
            .filter_map(|d| layers::meta(&self.dir, d).ok())
            .map(|m| m.reported_size())
            .sum();
        let tags = index::load(&self.dir)?
            .into_iter()
            .filter(|e| e.manifest == manifest_digest)
            .filter_map(|e| e.reference)
            .collect();
        Ok(ImageRecord {
            id,
            manifest_digest: manifest_digest.to_string(),
            layer_blobs,
            config,
            diff_ids,
            tags,
            size,
        })
    }

    /// Every image, one row per tag (an untagged image once), newest first.
    pub fn list(&self) -> Result<Vec<ImageSummary>> {
        let mut records = BTreeMap::new();
        let mut rows = Vec::new();
        for e in index::load(&self.dir)? {
            if !records.contains_key(&e.manifest) {
                records.insert(e.manifest.clone(), self.record(&e.manifest)?);
            }
            let rec = &records[&e.manifest];
            rows.push(ImageSummary {
                id: rec.id.clone(),
                reference: e.reference,
                created: rec.config["created"].as_str().map(str::to_string),
                size: rec.size,
            });
        }
        rows.sort_by(|a, b| {
            b.created
                .cmp(&a.created)
                .then(a.reference.cmp(&b.reference))
        });
        Ok(rows)
    }

    /// Names the image `source` refers to `target` too.
    pub fn tag(&self, source: &str, target: &Reference) -> Result<()> {
        let _lock = self.lock()?;
        let manifest = self.resolve(source)?;
        let mut entries = index::load(&self.dir)?;
        let size = entries
            .iter()
            .find(|e| e.manifest == manifest)
            .map_or(0, |e| e.size);
        index::attach(&mut entries, &manifest, size, std::slice::from_ref(target));
        index::save(&self.dir, &entries)
    }

    /// `image rm`: a tag is untagged (the image is deleted with its last tag); an ID deletes
    /// the image (with `force` also when it has several tags). An image a container holds is
    /// never deleted: without `force` that is an error naming the containers.
    pub fn remove(&self, name: &str, force: bool) -> Result<Vec<Removal>> {
        let _lock = self.lock()?;
        let manifest = self.resolve(name)?;
        let rec = self.record(&manifest)?;
        let holders: Vec<String> = self
            .holds()
            .into_iter()
            .filter(|(_, id)| *id == rec.id)
            .map(|(c, _)| c)
            .collect();
        let mut entries = index::load(&self.dir)?;
        let mut out = Vec::new();
        let by_tag = Reference::parse(name)
            .ok()
            .filter(|r| r.digest.is_none() && rec.tags.contains(r));
        if let Some(tag) = by_tag {
            if rec.tags.len() == 1 && !holders.is_empty() && !force {
                return Err(StoreError::InUse {
                    image: name.to_string(),
                    containers: holders.join(", "),
                });
            }
            index::detach(&mut entries, &tag);
            out.push(Removal::Untagged(tag.familiar()));
            if rec.tags.len() > 1 {
                index::save(&self.dir, &entries)?;
                return Ok(out);
            }
        } else {
            if rec.tags.len() > 1 && !force {
                return Err(StoreError::MultipleTags {
                    image: name.to_string(),
                    tags: rec
                        .tags
                        .iter()
                        .map(Reference::familiar)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            if !holders.is_empty() && !force {
                return Err(StoreError::InUse {
                    image: name.to_string(),
                    containers: holders.join(", "),
                });
            }
            for t in &rec.tags {
                index::detach(&mut entries, t);
                out.push(Removal::Untagged(t.familiar()));
            }
        }
        if holders.is_empty() {
            entries.retain(|e| e.manifest != manifest);
            out.push(Removal::Deleted(rec.id.clone()));
        }
        index::save(&self.dir, &entries)?;
        self.collect_garbage()?;
        Ok(out)
    }

    /// Removes untagged images (with `all`, every image) that no container holds.
    pub fn prune(&self, all: bool) -> Result<Vec<Removal>> {
        let _lock = self.lock()?;
        let held: BTreeSet<String> = self.holds().into_iter().map(|(_, id)| id).collect();
        let mut entries = index::load(&self.dir)?;
        let mut out = Vec::new();
        let manifests: BTreeSet<String> = entries.iter().map(|e| e.manifest.clone()).collect();
        for manifest in manifests {
            let rec = self.record(&manifest)?;
            if held.contains(&rec.id) || (!all && !rec.tags.is_empty()) {
                continue;
            }
            for t in &rec.tags {
                out.push(Removal::Untagged(t.familiar()));
            }
            entries.retain(|e| e.manifest != manifest);
            out.push(Removal::Deleted(rec.id));
        }
        index::save(&self.dir, &entries)?;
        self.collect_garbage()?;
        Ok(out)
    }

    /// Deletes layers and blobs that no image in the index (or held by a container) uses.
    fn collect_garbage(&self) -> Result<()> {
        let entries = index::load(&self.dir)?;
        let mut keep_blobs = BTreeSet::new();
        let mut keep_layers = BTreeSet::new();
        let held: Vec<String> = self.holds().into_iter().map(|(_, id)| id).collect();
        let manifests: BTreeSet<String> = entries.iter().map(|e| e.manifest.clone()).collect();
        for m in &manifests {
            let rec = self.record(m)?;
            keep_blobs.insert(m.clone());
            keep_blobs.insert(rec.id.clone());
            keep_blobs.extend(rec.layer_blobs.iter().map(|(d, _)| d.clone()));
            keep_layers.extend(rec.diff_ids.iter().cloned());
        }
        // A held image that lost its index entry still keeps its config and layers.
        for id in held {
            keep_blobs.insert(id.clone());
            if let Ok(cfg) = blobs::read(&self.dir, &id) {
                if let Ok(v) = serde_json::from_slice::<Value>(&cfg) {
                    for d in v["rootfs"]["diff_ids"].as_array().into_iter().flatten() {
                        keep_layers.extend(d.as_str().map(str::to_string));
                    }
                }
            }
        }
        for layer in layers::all(&self.dir) {
            if !keep_layers.contains(&layer) {
                layers::remove(&self.dir, &layer)?;
            }
        }
        if let Ok(read) = std::fs::read_dir(self.dir.join("blobs/sha256")) {
            for e in read.flatten() {
                let digest = format!("sha256:{}", e.file_name().to_string_lossy());
                if !keep_blobs.contains(&digest) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }

    /// `image history`: newest first.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryRow>> {
        let rec = self.image(name)?;
        let mut sizes = rec
            .diff_ids
            .iter()
            .map(|d| layers::meta(&self.dir, d).map_or(0, |m| m.reported_size()));
        let mut rows = Vec::new();
        for h in rec.config["history"].as_array().into_iter().flatten() {
            let empty = h["empty_layer"].as_bool().unwrap_or(false);
            let size = if empty { 0 } else { sizes.next().unwrap_or(0) };
            rows.push(HistoryRow {
                created: h["created"].as_str().map(str::to_string),
                created_by: h["created_by"].as_str().unwrap_or_default().to_string(),
                size,
                comment: h["comment"].as_str().unwrap_or_default().to_string(),
            });
        }
        rows.reverse();
        Ok(rows)
    }

    /// `image inspect` in Docker's shape.
    pub fn inspect_json(&self, name: &str) -> Result<Value> {
        let rec = self.image(name)?;
        let c = &rec.config;
        let repo_digests: Vec<String> = rec
            .tags
            .iter()
            .map(|t| format!("{}@{}", t.familiar_repository(), rec.manifest_digest))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Ok(json!({
            "Id": rec.id,
            "RepoTags": rec.tags.iter().map(Reference::familiar).collect::<Vec<_>>(),
            "RepoDigests": repo_digests,
            "Parent": "",
            "Comment": c["history"].as_array().and_then(|h| h.last()).and_then(|h| h["comment"].as_str()).unwrap_or(""),
            "Created": c["created"],
            "Author": c["author"].as_str().unwrap_or(""),
            "Config": docker_config(&c["config"]),
            "Architecture": c["architecture"],
            "Variant": c["variant"],
            "Os": c["os"],
            "Size": rec.size,
            "RootFS": { "Type": "layers", "Layers": rec.diff_ids },
            "Metadata": { "LastTagTime": Value::Null },
            "Descriptor": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": rec.manifest_digest,
            },
        }))
    }
}

/// The image config's `config` as Docker's inspect shows it (the same field names; absent
/// lists as null).
fn docker_config(c: &Value) -> Value {
    let field = |k: &str| c.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "User": c.get("User").cloned().unwrap_or(json!("")),
        "ExposedPorts": field("ExposedPorts"),
        "Env": field("Env"),
        "Entrypoint": field("Entrypoint"),
        "Cmd": field("Cmd"),
        "Volumes": field("Volumes"),
        "WorkingDir": c.get("WorkingDir").cloned().unwrap_or(json!("")),
        "Labels": field("Labels"),
        "StopSignal": field("StopSignal"),
        "Healthcheck": field("Healthcheck"),
        "OnBuild": field("OnBuild"),
        "Shell": field("Shell"),
    })
}
