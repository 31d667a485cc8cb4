//! `index.json`: which manifests the store holds and the tags that name them.

use std::path::Path;

use serde_json::json;

use super::{Result, StoreError};
use crate::engine::image::reference::Reference;

pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// One descriptor of index.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The manifest's digest.
    pub manifest: String,
    pub size: u64,
    /// The tag; `None` for an untagged image.
    pub reference: Option<Reference>,
}

pub fn load(dir: &Path) -> Result<Vec<IndexEntry>> {
    let p = dir.join("index.json");
    let data = std::fs::read(&p).map_err(|e| StoreError::io(&p, e))?;
    let corrupt = |message: String| StoreError::Corrupt {
        path: p.clone(),
        message,
    };
    let v: serde_json::Value = serde_json::from_slice(&data).map_err(|e| corrupt(e.to_string()))?;
    let mut out = Vec::new();
    for m in v["manifests"].as_array().into_iter().flatten() {
        let manifest = m["digest"]
            .as_str()
            .ok_or_else(|| corrupt("a manifest without digest".into()))?
            .to_string();
        let reference = match m["annotations"][REF_NAME].as_str() {
            Some(r) => Some(Reference::parse(r).map_err(|e| corrupt(e.to_string()))?),
            None => None,
        };
        out.push(IndexEntry {
            manifest,
            size: m["size"].as_u64().unwrap_or(0),
            reference,
        });
    }
    Ok(out)
}

/// Writes index.json atomically.
pub fn save(dir: &Path, entries: &[IndexEntry]) -> Result<()> {
    let manifests: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let mut d = json!({
                "mediaType": MANIFEST_TYPE,
                "digest": e.manifest,
                "size": e.size,
            });
            if let Some(r) = &e.reference {
                d["annotations"] = json!({ REF_NAME: r.to_string() });
            }
            d
        })
        .collect();
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    });
    let tmp = dir.join("tmp/index.json.new");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(&index).expect("serializable"),
    )
    .map_err(|e| StoreError::io(&tmp, e))?;
    let p = dir.join("index.json");
    std::fs::rename(&tmp, &p).map_err(|e| StoreError::io(&p, e))
}

/// Points `tags` at `manifest` (a tag that named another image moves; that image stays,
/// untagged, if no other tag names it). Without tags the image is kept untagged.
pub fn attach(entries: &mut Vec<IndexEntry>, manifest: &str, size: u64, tags: &[Reference]) {
    for tag in tags {
        detach(entries, tag);
        entries.retain(|e| !(e.manifest == manifest && e.reference.is_none()));
        entries.push(IndexEntry {
            manifest: manifest.to_string(),
            size,
            reference: Some(tag.clone()),
        });
    }
    if !entries.iter().any(|e| e.manifest == manifest) {
        entries.push(IndexEntry {
            manifest: manifest.to_string(),
            size,
            reference: None,
        });
    }
}

/// Removes the tag `tag`; its image stays, untagged, if nothing else names it. Returns the
/// manifest it named.
pub fn detach(entries: &mut Vec<IndexEntry>, tag: &Reference) -> Option<String> {
    let pos = entries
        .iter()
        .position(|e| e.reference.as_ref() == Some(tag))?;
    let old = entries.remove(pos);
    if !entries.iter().any(|e| e.manifest == old.manifest) {
        entries.push(IndexEntry {
            reference: None,
            ..old.clone()
        });
    }
    Some(old.manifest)
}
