//! The store: blob verification, short lower dirs, holds.

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

fn one_file_layer(i: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let data = format!("{i}");
    let mut h = tar::Header::new_ustar();
    h.set_path(format!("f{i}")).unwrap();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, data.as_bytes()).unwrap();
    b.into_inner().unwrap()
}

fn sha(data: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data))
    )
}

/// Commits an image of `n` one-file layers tagged `tag`.
fn image(store: &ImageStore, n: usize, tag: &str) -> String {
    let mut blobs_ = Vec::new();
    let mut sizes = Vec::new();
    for i in 0..n {
        let l = one_file_layer(i);
        sizes.push(l.len());
        let (d, _, _) = store.put_blob(Cursor::new(&l), None, None, "test").unwrap();
        blobs_.push(LayerBlob {
            blob: d.clone(),
            diff_id: d,
        });
    }
    let diff_ids: Vec<_> = blobs_.iter().map(|b| b.diff_id.clone()).collect();
    let config = serde_json::to_vec(&serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":diff_ids}})).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({"schemaVersion":2,"config":{"digest":sha(&config),"size":config.len()},"layers":blobs_.iter().zip(&sizes).map(|(b, s)| serde_json::json!({"digest":b.blob,"size":s,"mediaType":"application/vnd.oci.image.layer.v1.tar"})).collect::<Vec<_>>()})).unwrap();
    store
        .commit(
            &manifest,
            &config,
            &blobs_,
            &[Reference::parse(tag).unwrap()],
        )
        .unwrap()
}

#[test]
fn blobs_are_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let (d, size, new) = store.put_blob(&b"hello"[..], None, None, "t").unwrap();
    assert_eq!((size, new), (5, true));
    assert!(store.has_blob(&d));
    let err = store
        .put_blob(&b"hello"[..], Some(&sha(b"other")), None, "entry x")
        .unwrap_err();
    assert!(
        err.to_string().contains("entry x") && err.to_string().contains(&sha(b"other")),
        "{err}"
    );
    let err = store
        .put_blob(&b"hello"[..], None, Some(4), "entry y")
        .unwrap_err();
    assert!(err.to_string().contains("entry y"), "{err}");
    let leftovers = std::fs::read_dir(tmp.path().join("tmp")).unwrap().count();
    assert_eq!(leftovers, 0, "no temporary files left");
}

#[test]
fn sixty_layers_fit_in_one_mount_option_page() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    image(&store, 60, "deep:1");
    let lowers = store.lower_dirs("deep:1").unwrap();
    assert_eq!(lowers.len(), 60);
    let option: usize = lowers
        .iter()
        .map(|p| p.as_os_str().len() + 1)
        .sum::<usize>()
        + "lowerdir=".len();
    assert!(option < 4000, "{option} bytes");
    assert!(lowers[0].starts_with("l"), "short links: {:?}", lowers[0]);
    assert!(
        store.dir().join(&lowers[0]).join("f59").exists(),
        "topmost first"
    );
}

#[test]
fn held_images_are_kept() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let id = image(&store, 2, "app:1");
    store.hold("c0ffee", &id).unwrap();
    let err = store.remove("app:1", false).unwrap_err().to_string();
    assert!(err.contains("c0ffee"), "{err}");
    let out = store.remove("app:1", true).unwrap();
    assert_eq!(
        out,
        vec![Removal::Untagged("app:1".into())],
        "untagged, not deleted"
    );
    assert_eq!(
        store
            .layer_diff_dirs(&id)
            .unwrap()
            .iter()
            .filter(|d| d.exists())
            .count(),
        2
    );
    assert!(
        store.prune(true).unwrap().is_empty(),
        "a held image is not pruned"
    );
    store.release("c0ffee").unwrap();
    let out = store.prune(false).unwrap();
    assert_eq!(out, vec![Removal::Deleted(id)]);
    assert!(layers::all(store.dir()).is_empty());
}

#[test]
fn layers_unpacked_before_files_size_was_recorded_report_their_tar_size() {
    let old: layers::LayerMeta =
        serde_json::from_str(r#"{"diff_id":"sha256:00","size":2048,"short":"AB"}"#).unwrap();
    assert_eq!(old.reported_size(), 2048);
    let new: layers::LayerMeta = serde_json::from_str(
        r#"{"diff_id":"sha256:00","size":2048,"files_size":1073741824,"short":"AB"}"#,
    )
    .unwrap();
    assert_eq!(new.reported_size(), 1 << 30);
}
