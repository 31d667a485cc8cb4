//! Archives at the library level: round trips and hostile archives (each refused, nothing left
//! registered: index, layers, blobs and staging as they were).

use std::io::Cursor;

use super::*;
use crate::engine::image::store::ImageStore;

fn is_root() -> bool {
    if rustix::process::geteuid().is_root() {
        true
    } else {
        eprintln!("skipped: needs root");
        false
    }
}

fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_path(p).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn sha(data: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data))
    )
}

/// A docker-archive with one image per (tag, layers) and the given manifest.json override.
fn docker_archive(images: &[(&str, Vec<Vec<u8>>)], manifest_override: Option<&str>) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let add = |b: &mut tar::Builder<Vec<u8>>, p: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_path(p).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, data).unwrap();
    };
    let mut manifest = Vec::new();
    for (i, (tag, layers)) in images.iter().enumerate() {
        let diff_ids: Vec<String> = layers.iter().map(|l| sha(l)).collect();
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux", "created": format!("2026-01-0{}T00:00:00Z", i + 1),
            "config": {"Cmd": ["/bin/sh"], "Healthcheck": {"Test": ["CMD", "true"]}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .unwrap();
        let cfg_path = format!("{}.json", &sha(&config)[7..]);
        add(&mut b, &cfg_path, &config);
        let mut paths = Vec::new();
        for l in layers {
            let p = format!("{}/layer.tar", &sha(l)[7..]);
            add(&mut b, &p, l);
            paths.push(p);
        }
        manifest.push(serde_json::json!({"Config": cfg_path, "RepoTags": [tag], "Layers": paths}));
    }
    let m = manifest_override
        .map(str::to_string)
        .unwrap_or_else(|| serde_json::to_string(&manifest).unwrap());
    add(&mut b, "manifest.json", m.as_bytes());
    b.into_inner().unwrap()
}

fn snapshot(store: &ImageStore) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![store.dir().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == "lock") {
                continue;
            }
            out.push(p.strip_prefix(store.dir()).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() && !p.ends_with("diff") {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn docker_archive_with_shared_layers_and_save_round_trip() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&tmp.path().join("a")).unwrap();
    let base = layer(&[("base", b"base")]);
    let data = docker_archive(
        &[
            ("one:1", vec![base.clone(), layer(&[("one", b"1")])]),
            ("two:2", vec![base.clone(), layer(&[("two", b"2")])]),
        ],
        None,
    );
    let loaded = load(&store, Cursor::new(data), None, "test.tar").unwrap();
    assert_eq!(loaded.len(), 2);
    let one = store.image("one:1").unwrap();
    let two = store.image("two:2").unwrap();
    assert_eq!(one.diff_ids[0], two.diff_ids[0], "the base layer is shared");
    assert_eq!(
        crate::engine::image::store::layers::all(store.dir()).len(),
        3
    );
    assert!(
        store.inspect_json("one:1").unwrap()["Config"]["Healthcheck"]["Test"][1] == "true",
        "Docker fields kept"
    );

    let mut saved = Vec::new();
    save(&store, &["one:1", "two:2"], &mut saved).unwrap();
    let other = ImageStore::open(&tmp.path().join("b")).unwrap();
    let again = load(&other, Cursor::new(saved), None, "test.tar").unwrap();
    let ids: Vec<_> = again.iter().map(|l| l.id.clone()).collect();
    assert_eq!(
        ids,
        vec![one.id.clone(), two.id.clone()],
        "IDs survive save and load"
    );
    assert_eq!(other.image("two:2").unwrap().tags[0].familiar(), "two:2");
}

#[test]
fn manifest_paths_outside_the_archive_are_refused() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let before = snapshot(&store);
    for bad in ["../../etc/passwd", "/etc/passwd", "missing/layer.tar"] {
        let m = format!(r#"[{{"Config":"{bad}","RepoTags":["x:1"],"Layers":[]}}]"#);
        let data = docker_archive(&[], Some(&m));
        let err = load(&store, Cursor::new(data), None, "test.tar")
            .unwrap_err()
            .to_string();
        assert!(err.contains(bad), "{err}");
        assert_eq!(snapshot(&store), before, "nothing left after {bad}");
    }
}

#[test]
fn a_layer_that_does_not_match_its_diff_id_is_refused() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let before = snapshot(&store);
    let good = layer(&[("a", b"a")]);
    let data = docker_archive(&[("x:1", vec![good])], None);
    // Swap the layer's content for another one (same path, so the config's diff ID is wrong).
    let evil = layer(&[("a", b"evil")]);
    let mut archive = tar::Archive::new(Cursor::new(data));
    let mut b = tar::Builder::new(Vec::new());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let mut h = e.header().clone();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut content).unwrap();
        if e.path().unwrap().to_string_lossy().ends_with("layer.tar") {
            content = evil.clone();
            h.set_size(content.len() as u64);
            h.set_cksum();
        }
        b.append(&h, &content[..]).unwrap();
    }
    let err = load(
        &store,
        Cursor::new(b.into_inner().unwrap()),
        None,
        "test.tar",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("layer 0") && err.contains("rootfs.diff_ids[0]") && err.contains("test.tar"),
        "{err}"
    );
    assert_eq!(snapshot(&store), before, "no layer or blob left registered");
}

#[test]
fn truncated_archives_are_refused() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let before = snapshot(&store);
    let data = docker_archive(&[("x:1", vec![layer(&[("a", &[1u8; 5000])])])], None);
    let err = load(&store, Cursor::new(data[..3000].to_vec()), None, "test.tar").unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::Stream(_) | ArchiveError::Store(_) | ArchiveError::UnknownFormat
        ),
        "{err}"
    );
    assert_eq!(snapshot(&store), before);
}

#[test]
fn oci_blobs_must_match_their_names_and_bare_tags_need_a_name() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&tmp.path().join("s")).unwrap();
    let l = layer(&[("f", b"f")]);
    let config = serde_json::to_vec(&serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[sha(&l)]}})).unwrap();
    let manifest = oci_manifest(
        (&sha(&config), config.len() as u64),
        &[(
            sha(&l),
            l.len() as u64,
            "application/vnd.oci.image.layer.v1.tar",
        )],
    );
    let build = |tamper: bool, tag: &str| {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |p: String, d: &[u8]| {
            let mut h = tar::Header::new_ustar();
            h.set_path(&p).unwrap();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append(&h, d).unwrap();
        };
        add("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#);
        let layer_data = if tamper {
            layer(&[("f", b"tampered")])
        } else {
            l.clone()
        };
        add(format!("blobs/sha256/{}", &sha(&l)[7..]), &layer_data);
        add(format!("blobs/sha256/{}", &sha(&config)[7..]), &config);
        add(format!("blobs/sha256/{}", &sha(&manifest)[7..]), &manifest);
        let index = serde_json::json!({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":sha(&manifest),"size":manifest.len(),"annotations":{"org.opencontainers.image.ref.name":tag}}]});
        add("index.json".into(), &serde_json::to_vec(&index).unwrap());
        b.into_inner().unwrap()
    };
    let before = snapshot(&store);
    let err = load(
        &store,
        Cursor::new(build(true, "v1")),
        Some("example.com/app"),
        "test.tar",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&sha(&l)[7..]) && err.contains("digest"),
        "{err}"
    );
    assert_eq!(snapshot(&store), before);
    let err = load(&store, Cursor::new(build(false, "v1")), None, "test.tar")
        .unwrap_err()
        .to_string();
    assert!(err.contains("--name"), "{err}");
    let ok = load(
        &store,
        Cursor::new(build(false, "v1")),
        Some("example.com/app"),
        "test.tar",
    )
    .unwrap();
    assert_eq!(ok[0].tags[0].to_string(), "example.com/app:v1");
    let ok = load(
        &store,
        Cursor::new(build(false, "example.com/other:v2")),
        None,
        "test.tar",
    )
    .unwrap();
    assert_eq!(ok[0].tags[0].familiar(), "example.com/other:v2");
}

/// An OCI layout archive of one image of `blobs` whose config lists `diff_ids`; `edit` may
/// change the manifest before it is written.
fn oci_archive(
    blobs: &[Vec<u8>],
    diff_ids: &[String],
    edit: impl Fn(&mut serde_json::Value),
) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |p: String, d: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_path(&p).unwrap();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, d).unwrap();
    };
    let config = serde_json::to_vec(&serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":diff_ids}})).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&oci_manifest(
        (&sha(&config), config.len() as u64),
        &blobs
            .iter()
            .map(|l| {
                (
                    sha(l),
                    l.len() as u64,
                    "application/vnd.oci.image.layer.v1.tar",
                )
            })
            .collect::<Vec<_>>(),
    ))
    .unwrap();
    edit(&mut manifest);
    let manifest = serde_json::to_vec(&manifest).unwrap();
    add("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#);
    for d in blobs.iter().chain([&config, &manifest]) {
        add(format!("blobs/sha256/{}", &sha(d)[7..]), d);
    }
    let index = serde_json::json!({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":sha(&manifest),"size":manifest.len(),"annotations":{"org.opencontainers.image.ref.name":"example.com/a:1"}}]});
    add("index.json".into(), &serde_json::to_vec(&index).unwrap());
    b.into_inner().unwrap()
}

#[test]
fn oci_diff_ids_are_computed_from_the_blobs_not_taken_from_the_config() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&tmp.path().join("s")).unwrap();
    let l = layer(&[("f", b"f")]);
    let other = layer(&[("g", b"g")]);
    let before = snapshot(&store);
    let mut claims = crate::engine::image::store::digest::malformed();
    claims.push(sha(&other));
    for claim in &claims {
        let data = oci_archive(
            std::slice::from_ref(&l),
            std::slice::from_ref(claim),
            |_| {},
        );
        let err = load(&store, Cursor::new(data), None, "hostile.tar").unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                ArchiveError::BadDiffId { index: 0, .. } | ArchiveError::DiffIdMismatch(_)
            ) && text.contains("hostile.tar")
                && text.contains("layer 0"),
            "{claim:?}: {text}"
        );
        assert!(!text.contains('\0'), "{text:?}");
        assert_eq!(snapshot(&store), before, "{claim:?}: nothing left");
    }
    // A second layer wrong, the first right: the error names layer 1.
    let data = oci_archive(&[l.clone(), other.clone()], &[sha(&l), sha(&l)], |_| {});
    let err = load(&store, Cursor::new(data), None, "two.tar")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("layer 1") && err.contains(&sha(&other)),
        "{err}"
    );
    assert_eq!(snapshot(&store), before);
}

#[test]
fn oci_descriptors_must_give_their_blobs_size() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&tmp.path().join("s")).unwrap();
    let l = layer(&[("f", b"f")]);
    let n = l.len() as u64;
    let before = snapshot(&store);
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<Edit> = vec![
        Box::new(move |m| m["layers"][0]["size"] = serde_json::json!(n + 1)),
        Box::new(move |m| m["layers"][0]["size"] = serde_json::json!(n - 1)),
        Box::new(|m| m["layers"][0]["size"] = serde_json::json!("1024")),
        Box::new(|m| m["layers"][0]["size"] = serde_json::Value::Null),
        Box::new(|m| m["config"]["size"] = serde_json::json!(1)),
    ];
    for edit in edits {
        let data = oci_archive(std::slice::from_ref(&l), &[sha(&l)], edit);
        let err = load(&store, Cursor::new(data), None, "sized.tar")
            .unwrap_err()
            .to_string();
        assert!(err.contains("size"), "{err}");
        assert_eq!(snapshot(&store), before);
    }
    let data = oci_archive(std::slice::from_ref(&l), &[sha(&l)], |_| {});
    load(&store, Cursor::new(data), None, "sized.tar").unwrap();
}
