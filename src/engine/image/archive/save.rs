//! `image save`: a docker-archive as Docker 25+ writes it: `manifest.json` (read by
//! `docker load`, `podman load` and skopeo's `docker-archive:`) over an OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/`), with uncompressed layers named by diff ID.

use std::collections::BTreeSet;
use std::io::{Read, Write};

use serde_json::json;

use super::{oci_manifest, ArchiveError, Result};
use crate::engine::image::reference::Reference;
use crate::engine::image::store::{blobs, digest, layers, ImageStore};
use crate::engine::image::unpack::decompress;

/// Writes `names` (tags or IDs) to `writer`. A tag is saved with that tag; an ID without tags.
pub fn save(store: &ImageStore, names: &[&str], writer: impl Write) -> Result<()> {
    let mut tar = tar::Builder::new(writer);
    let mut written = BTreeSet::new();
    let mut manifest_list = Vec::new();
    let mut index = Vec::new();
    for name in names {
        let rec = store.image(name)?;
        let tags: Vec<Reference> = Reference::parse(name)
            .ok()
            .filter(|r| rec.tags.contains(r))
            .into_iter()
            .collect();
        // The config, as stored.
        let config = blobs::read(store.dir(), &rec.id)?;
        put(&mut tar, &mut written, &rec.id, &config)?;
        // Each layer uncompressed, named by its diff ID.
        let mut layer_paths = Vec::new();
        let mut descs = Vec::new();
        for ((blob, _), diff_id) in rec.layer_blobs.iter().zip(&rec.diff_ids) {
            let size = layers::meta(store.dir(), diff_id)?.size;
            let path = format!("blobs/sha256/{}", digest::hex(diff_id)?);
            if written.insert(diff_id.clone()) {
                let stream = decompress(store.open_blob(blob)?, &store.limits()?.archive())
                    .map_err(ArchiveError::Stream)?;
                append(&mut tar, &path, size, stream)?;
            }
            layer_paths.push(path);
            descs.push((
                diff_id.clone(),
                size,
                "application/vnd.oci.image.layer.v1.tar",
            ));
        }
        let manifest = oci_manifest((&rec.id, config.len() as u64), &descs);
        let manifest_digest = format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&manifest))
        );
        put(&mut tar, &mut written, &manifest_digest, &manifest)?;
        manifest_list.push(json!({
            "Config": format!("blobs/sha256/{}", digest::hex(&rec.id)?),
            "RepoTags": if tags.is_empty() { serde_json::Value::Null } else {
                json!(tags.iter().map(Reference::familiar).collect::<Vec<_>>())
            },
            "Layers": layer_paths,
        }));
        let mut desc = json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
        });
        if let Some(t) = tags.first() {
            desc["annotations"] = json!({
                "io.containerd.image.name": t.to_string(),
                "org.opencontainers.image.ref.name": t.tag.clone().unwrap_or_default(),
            });
        }
        index.push(desc);
    }
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index});
    file(
        &mut tar,
        "index.json",
        &serde_json::to_vec(&index).expect("json"),
    )?;
    file(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    file(
        &mut tar,
        "manifest.json",
        &serde_json::to_vec(&manifest_list).expect("json"),
    )?;
    tar.into_inner()
        .map_err(ArchiveError::Write)?
        .flush()
        .map_err(ArchiveError::Write)
}

fn put<W: Write>(
    tar: &mut tar::Builder<W>,
    written: &mut BTreeSet<String>,
    blob: &str,
    data: &[u8],
) -> Result<()> {
    if written.insert(blob.to_string()) {
        file(tar, &format!("blobs/sha256/{}", digest::hex(blob)?), data)?;
    }
    Ok(())
}

fn file<W: Write>(tar: &mut tar::Builder<W>, path: &str, data: &[u8]) -> Result<()> {
    append(tar, path, data.len() as u64, data)
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    data: impl Read,
) -> Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path).map_err(ArchiveError::Write)?;
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mtime(0);
    h.set_cksum();
    // Directories first would be nicer for humans; loaders do not need them.
    tar.append(&h, data.take(size)).map_err(ArchiveError::Write)
}
