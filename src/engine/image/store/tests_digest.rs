//! Hostile digests and diff IDs: none becomes a path, panics, or lets a blob stand for a layer
//! it does not unpack to.

use std::io::Cursor;

use super::*;

fn is_root() -> bool {
    if rustix::process::geteuid().is_root() {
        true
    } else {
        eprintln!("skipped: needs root");
        false
    }
}

fn layer(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_path(name).unwrap();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, data).unwrap();
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Commits an image of `blob_data` (stored as is) whose config lists `diff_id`.
fn commit(store: &ImageStore, blob_data: &[u8], diff_id: &str) -> Result<String> {
    let (blob, size, _) = store.put_blob(Cursor::new(blob_data), None, None, "test")?;
    let config = serde_json::to_vec(&serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[diff_id]}})).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({"schemaVersion":2,"config":{"digest":digest::of(&config),"size":config.len()},"layers":[{"digest":blob,"size":size,"mediaType":"application/vnd.oci.image.layer.v1.tar"}]})).unwrap();
    store.commit(
        &manifest,
        &config,
        &[LayerBlob {
            blob,
            diff_id: diff_id.to_string(),
        }],
        &[Reference::parse("t:1").unwrap()],
    )
}

/// What a `meta.json` planted outside the store says.
fn plant(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("diff")).unwrap();
    std::fs::write(
        dir.join("meta.json"),
        br#"{"diff_id":"x","size":999999,"short":"PLANTED"}"#,
    )
    .unwrap();
}

#[test]
fn malformed_digests_never_become_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&tmp.path().join("store")).unwrap();
    // A layer's meta.json where `sha256:../..`, `sha256:/abs` and a bare path would lead.
    plant(&tmp.path().join("planted"));
    plant(tmp.path());
    let mut bad = digest::malformed();
    bad.push(format!("sha256:{}", tmp.path().join("planted").display()));
    bad.push("sha256:../..".into());
    bad.push("sha256:../../planted".into());
    let limits = store.limits().unwrap();
    let dir = store.dir();
    for d in &bad {
        let bad_digest = |r: Result<(), StoreError>| match r {
            Err(StoreError::BadDigest { digest }) => assert_eq!(&digest, d),
            other => panic!("{d:?}: {other:?}"),
        };
        bad_digest(layers::layer_dir(dir, d).map(drop));
        bad_digest(layers::diff_dir(dir, d).map(drop));
        bad_digest(layers::meta(dir, d).map(drop));
        bad_digest(layers::short_path(d).map(drop));
        bad_digest(layers::remove(dir, d));
        bad_digest(layers::ensure(dir, d, d, &limits).map(drop));
        bad_digest(blobs::blob_path(dir, d).map(drop));
        bad_digest(blobs::open(dir, d).map(drop));
        bad_digest(blobs::read(dir, d).map(drop));
        assert!(!store.has_blob(d));
    }
    assert!(
        tmp.path().join("planted/meta.json").exists(),
        "nothing removed"
    );
}

#[test]
fn commit_refuses_a_malformed_diff_id_and_keeps_nothing() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&tmp.path().join("store")).unwrap();
    plant(&tmp.path().join("planted"));
    let l = layer("f", b"f");
    let mut bad = digest::malformed();
    bad.push(format!("sha256:{}", tmp.path().join("planted").display()));
    for d in &bad {
        let err = commit(&store, &l, d).unwrap_err();
        assert!(matches!(err, StoreError::BadDigest { .. }), "{d:?}: {err}");
        assert!(store.list().unwrap().is_empty(), "{d:?} registered");
        assert!(layers::all(store.dir()).is_empty());
    }
}

#[test]
fn a_present_layer_stands_only_for_blobs_that_unpack_to_it() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&tmp.path().join("store")).unwrap();
    let present = layer("f", b"trusted");
    let diff_id = digest::of(&present);
    commit(&store, &present, &diff_id).unwrap();
    let other = layer("f", b"other");
    for blob in [other.clone(), gzip(&other)] {
        let err = commit(&store, &blob, &diff_id).unwrap_err();
        match err {
            StoreError::DiffIdMismatch {
                expected, actual, ..
            } => {
                assert_eq!(expected, diff_id);
                assert_eq!(actual, digest::of(&other));
            }
            e => panic!("{e}"),
        }
    }
    // The same layer compressed is taken, and remembered as checked.
    let gz = gzip(&present);
    commit(&store, &gz, &diff_id).unwrap();
    let meta = layers::meta(store.dir(), &diff_id).unwrap();
    assert_eq!(meta.blobs, vec![digest::of(&present), digest::of(&gz)]);
}

#[test]
fn the_manifest_must_describe_the_config_and_layers() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&tmp.path().join("store")).unwrap();
    let l = layer("f", b"f");
    let (blob, size, _) = store.put_blob(Cursor::new(&l), None, None, "t").unwrap();
    let config = serde_json::to_vec(&serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[&blob]}})).unwrap();
    let cd = digest::of(&config);
    let n = config.len();
    let other = digest::of(b"other");
    for (what, m) in [
        (
            "config digest",
            serde_json::json!({"config":{"digest":other,"size":n},"layers":[{"digest":blob,"size":size}]}),
        ),
        (
            "config size",
            serde_json::json!({"config":{"digest":cd,"size":n + 1},"layers":[{"digest":blob,"size":size}]}),
        ),
        (
            "layer digest",
            serde_json::json!({"config":{"digest":cd,"size":n},"layers":[{"digest":other,"size":size}]}),
        ),
        (
            "layer size",
            serde_json::json!({"config":{"digest":cd,"size":n},"layers":[{"digest":blob,"size":size - 1}]}),
        ),
        (
            "no layer size",
            serde_json::json!({"config":{"digest":cd,"size":n},"layers":[{"digest":blob}]}),
        ),
        (
            "layer count",
            serde_json::json!({"config":{"digest":cd,"size":n},"layers":[]}),
        ),
    ] {
        let layers_ = [LayerBlob {
            blob: blob.clone(),
            diff_id: blob.clone(),
        }];
        let err = store
            .commit(&serde_json::to_vec(&m).unwrap(), &config, &layers_, &[])
            .unwrap_err();
        assert!(err.to_string().contains("manifest"), "{what}: {err}");
        assert!(store.list().unwrap().is_empty(), "{what}");
    }
}

#[test]
fn oversized_documents_are_refused_unread() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&tmp.path().join("store")).unwrap();
    let big = vec![b' '; blobs::MAX_DOCUMENT as usize + 1];
    let (d, _, _) = store.put_blob(Cursor::new(&big), None, None, "t").unwrap();
    let err = blobs::read(store.dir(), &d).unwrap_err();
    assert!(matches!(err, StoreError::DocumentTooLarge { .. }), "{err}");
}
