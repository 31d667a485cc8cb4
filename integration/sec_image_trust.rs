//! Every image is hostile (security issue 14): what an archive claims is checked against
//! what it holds, digests never become paths unchecked, `image mount` gives no setuid binary or
//! device to the host, and the state root and run directory are root's alone.
//!
//! 1. An OCI layout's `rootfs.diff_ids` are computed from the layer blobs and compared (a
//!    config naming `sha256:../../volumes/data/_data` or `sha256:/abs` registered without
//!    unpacking, and `image ls` then read the attacker's `meta.json`, a FIFO hanging it);
//!    descriptors' sizes must match their blobs.
//! 2. `image mount` is nosuid,nodev (a setuid-root binary of the image ran as root on the host).
//! 3. The state root, run directory, runtime root and image store are 0700, specs and logs
//!    0600 (any user read `-e` secrets and walked into containers' root filesystems).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

mod mount;
mod state_root;

// ---------------------------------------------------------------------------------------------
// Helpers

fn sha(data: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(data))
}

fn one_file_layer(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    add_file(&mut b, name, data, 0o644);
    b.into_inner().unwrap()
}

/// An OCI image-layout archive of one image: `blobs` as stored (their descriptors' digests
/// and sizes are right unless `edit_manifest` changes them), the config's `diff_ids` as given;
/// `edit_index` may change index.json's descriptor, `manifest_pad` appends blanks to the
/// manifest after the index's descriptor was made.
struct Oci<'a> {
    blobs: Vec<Vec<u8>>,
    diff_ids: Vec<String>,
    edit_manifest: &'a dyn Fn(&mut Value),
    edit_index: &'a dyn Fn(&mut Value),
    manifest_pad: usize,
}

impl Oci<'_> {
    fn new(blobs: Vec<Vec<u8>>, diff_ids: Vec<String>) -> Oci<'static> {
        Oci {
            blobs,
            diff_ids,
            edit_manifest: &|_| {},
            edit_index: &|_| {},
            manifest_pad: 0,
        }
    }

    fn archive(&self) -> Vec<u8> {
        let mut t = tar::Builder::new(Vec::new());
        let mut put = |data: &[u8]| {
            add_file(
                &mut t,
                &format!("blobs/sha256/{}", sha256_hex(data)),
                data,
                0o644,
            )
        };
        let mut descs = Vec::new();
        for b in &self.blobs {
            put(b);
            descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(b), "size": b.len()}));
        }
        let config = serde_json::to_vec(&json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": self.diff_ids},
        }))
        .unwrap();
        put(&config);
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(&config), "size": config.len()},
            "layers": descs,
        });
        (self.edit_manifest)(&mut manifest);
        let manifest = serde_json::to_vec(&manifest).unwrap();
        let mut index = json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": sha(&manifest), "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "example.com/trust:1"},
        });
        (self.edit_index)(&mut index);
        let mut padded = manifest.clone();
        if self.manifest_pad > 0 {
            padded.resize(manifest.len() + self.manifest_pad, b' ');
            index["digest"] = json!(sha(&padded));
        }
        put(&padded);
        let index = json!({"schemaVersion": 2, "manifests": [index]});
        add_file(
            &mut t,
            "index.json",
            &serde_json::to_vec(&index).unwrap(),
            0o644,
        );
        add_file(
            &mut t,
            "oci-layout",
            br#"{"imageLayoutVersion":"1.0.0"}"#,
            0o644,
        );
        t.into_inner().unwrap()
    }
}

/// Runs `cmd`, killed (by its PID) if it is not done within `limit`; `None` then.
fn within(mut cmd: Command, limit: Duration) -> Option<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `berth ARGS` within 20 s; panics naming the command when it hangs.
fn berth_within(b: &Berth, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
    c.arg("--root").arg(b.path().join("state")).args(args);
    within(c, Duration::from_secs(20)).unwrap_or_else(|| panic!("berth {args:?} hangs"))
}

fn assert_no_panic(out: &Output, what: &str) {
    let err = stderr(out);
    assert!(
        !err.contains("panicked") && out.status.code() != Some(101),
        "{what} panicked: {err}"
    );
}

/// `image ls -q`: the image IDs the store lists (within a deadline).
fn image_ids(b: &Berth) -> String {
    let out = berth_within(b, &["image", "ls", "-q"]);
    assert!(out.status.success(), "image ls: {}", stderr(&out));
    stdout(&out)
}

fn load(b: &Berth, name: &str, archive: &[u8]) -> (Output, String) {
    let p = b.path().join(name);
    std::fs::write(&p, archive).unwrap();
    let p = p.to_str().unwrap().to_string();
    (berth_within(b, &["image", "load", "-i", &p]), p)
}

/// A directory holding a `meta.json` as berth's layers do (a container could write one into a
/// volume, a local user into /tmp), claiming a huge size.
fn plant_meta(dir: &Path) {
    std::fs::create_dir_all(dir.join("diff")).unwrap();
    std::fs::write(
        dir.join("meta.json"),
        br#"{"diff_id":"sha256:planted","size":123456789012,"short":"PLANTED"}"#,
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// 1. Diff IDs, digests and sizes

#[test]
fn oci_diff_ids_that_are_not_digests_are_refused_and_read_nothing() {
    if !root_or_skip("oci_diff_ids_that_are_not_digests_are_refused_and_read_nothing") {
        return;
    }
    let b = Berth::new();
    b.ok(&["volume", "create", "data"]);
    // What a container of another image could leave in its volume, and a local user in /tmp.
    plant_meta(&b.path().join("state/volumes/data/_data"));
    let planted = b.path().join("planted");
    plant_meta(&planted);
    let fifo = b.path().join("fifo");
    std::fs::create_dir(&fifo).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        fifo.join("meta.json"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let layer = one_file_layer("f", b"content");
    let real = sha256_hex(&layer);
    let variants = [
        "sha256:../../volumes/data/_data".to_string(),
        "../../volumes/data/_data".to_string(),
        format!("sha256:{}", planted.display()),
        format!("sha256:{}", fifo.display()),
        "sha256:".to_string(),
        "sha256:abc".to_string(),
        "sha256".to_string(),
        String::new(),
        format!("sha512:{}", "ab".repeat(64)),
        format!("sha256:{}", real.to_uppercase()),
        format!("sha256:{}\0", &real[..63]),
        format!("sha256:{real}/../{real}"),
        "sha256:../é/x".to_string(),
    ];
    image_ids(&b); // makes the store
    let before = b.state_files();
    for bad in &variants {
        let oci = Oci::new(vec![layer.clone()], vec![bad.clone()]);
        let (out, path) = load(&b, "bad-diff-id.tar", &oci.archive());
        assert_no_panic(&out, &format!("load of diff ID {bad:?}"));
        let err = stderr(&out);
        assert!(!out.status.success(), "diff ID {bad:?} was accepted");
        assert!(
            err.contains("layer 0") && err.contains(&path),
            "the error names the layer and the archive ({bad:?}): {err}"
        );
        assert_eq!(image_ids(&b), "", "nothing registered for {bad:?}");
        assert_eq!(b.state_files(), before, "nothing left for {bad:?}");
    }
    // The real diff ID loads.
    let oci = Oci::new(vec![layer.clone()], vec![sha(&layer)]);
    let (out, _) = load(&b, "good.tar", &oci.archive());
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_layer_blob_must_unpack_to_its_diff_id_even_when_that_layer_is_present() {
    if !root_or_skip("a_layer_blob_must_unpack_to_its_diff_id_even_when_that_layer_is_present") {
        return;
    }
    let b = Berth::new();
    let present = one_file_layer("f", b"trusted");
    let (out, _) = load(
        &b,
        "trusted.tar",
        &Oci::new(vec![gzip(&present)], vec![sha(&present)]).archive(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let trusted_ids = image_ids(&b);
    let before = b.state_files();
    let other = one_file_layer("f", b"something else");
    // Claims the present layer (plain and compressed blob), and a layer that is not there.
    let absent = one_file_layer("g", b"absent");
    for (blob, claimed) in [
        (other.clone(), sha(&present)),
        (gzip(&other), sha(&present)),
        (gzip(&other), sha(&absent)),
    ] {
        let (out, path) = load(
            &b,
            "claims.tar",
            &Oci::new(vec![blob.clone()], vec![claimed.clone()]).archive(),
        );
        assert_no_panic(&out, "load");
        let err = stderr(&out);
        assert!(
            !out.status.success(),
            "a blob of other content was accepted"
        );
        assert!(
            err.contains("layer 0")
                && err.contains(&claimed)
                && err.contains(&sha(&other))
                && err.contains(&path),
            "the error names the layer, both diff IDs and the archive: {err}"
        );
        assert_eq!(image_ids(&b), trusted_ids, "nothing new registered");
        assert_eq!(b.state_files(), before, "nothing left");
    }
    // A second image really sharing the layer still loads.
    let (out, _) = load(
        &b,
        "shares.tar",
        &Oci::new(
            vec![present.clone(), gzip(&other)],
            vec![sha(&present), sha(&other)],
        )
        .archive(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn descriptors_must_give_their_blobs_size() {
    if !root_or_skip("descriptors_must_give_their_blobs_size") {
        return;
    }
    let b = Berth::new();
    let layer = one_file_layer("f", b"sized");
    let n = layer.len() as u64;
    image_ids(&b); // makes the store
    let before = b.state_files();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, Edit, usize)> = vec![
        (
            "layer smaller",
            Box::new(move |m| m["layers"][0]["size"] = json!(n - 1)),
            Box::new(|_| {}),
            0,
        ),
        (
            "layer larger",
            Box::new(move |m| m["layers"][0]["size"] = json!(n + 512)),
            Box::new(|_| {}),
            0,
        ),
        (
            "layer without size",
            Box::new(|m| {
                m["layers"][0].as_object_mut().unwrap().remove("size");
            }),
            Box::new(|_| {}),
            0,
        ),
        (
            "layer negative",
            Box::new(|m| m["layers"][0]["size"] = json!(-1)),
            Box::new(|_| {}),
            0,
        ),
        (
            "config",
            Box::new(|m| m["config"]["size"] = json!(3)),
            Box::new(|_| {}),
            0,
        ),
        (
            "manifest",
            Box::new(|_| {}),
            Box::new(|i| i["size"] = json!(10)),
            0,
        ),
        // Blanks after the JSON: still a manifest, 1 MiB past its descriptor's size.
        (
            "manifest padded",
            Box::new(|_| {}),
            Box::new(|_| {}),
            1 << 20,
        ),
    ];
    for (what, m, i, pad) in &cases {
        let oci = Oci {
            blobs: vec![layer.clone()],
            diff_ids: vec![sha(&layer)],
            edit_manifest: m.as_ref(),
            edit_index: i.as_ref(),
            manifest_pad: *pad,
        };
        let (out, _) = load(&b, "sizes.tar", &oci.archive());
        assert_no_panic(&out, what);
        let err = stderr(&out);
        assert!(!out.status.success(), "{what}: a wrong size was accepted");
        assert!(err.contains("size"), "{what}: the error says why: {err}");
        assert_eq!(image_ids(&b), "", "{what}: nothing registered");
        assert_eq!(b.state_files(), before, "{what}: nothing left");
    }
}

/// An image a store already holds (registered before these checks) whose config names a path
/// as diff ID: no command reads through it, hangs or panics.
#[test]
fn an_image_recorded_with_a_path_as_diff_id_reads_nothing_through_it() {
    if !root_or_skip("an_image_recorded_with_a_path_as_diff_id_reads_nothing_through_it") {
        return;
    }
    let b = Berth::new();
    image_ids(&b); // makes the store
    let fifo = b.path().join("fifo");
    std::fs::create_dir_all(fifo.join("diff")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        fifo.join("meta.json"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let store = b.path().join("state/image");
    let put = |data: &[u8]| {
        std::fs::write(store.join("blobs/sha256").join(sha256_hex(data)), data).unwrap();
        sha(data)
    };
    let layer = put(&one_file_layer("f", b"x"));
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", fifo.display())]},
        "history": [{"created_by": "planted"}],
    }))
    .unwrap();
    let config_digest = put(&config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 1}],
    }))
    .unwrap();
    let manifest_digest = put(&manifest);
    let index = json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len()},
    ]});
    std::fs::write(
        store.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let id = &config_digest[7..19];
    assert!(image_ids(&b).contains(id), "the image is listed");
    for args in [vec!["image", "inspect", id], vec!["image", "history", id]] {
        let out = berth_within(&b, &args);
        assert_no_panic(&out, &format!("{args:?}"));
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let mnt = b.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let saved = b.path().join("saved.tar");
    for args in [
        vec!["image", "save", "-o", saved.to_str().unwrap(), id],
        vec!["image", "mount", id, mnt.to_str().unwrap()],
        vec!["container", "create", id],
    ] {
        let out = berth_within(&b, &args);
        assert_no_panic(&out, &format!("{args:?}"));
        assert!(!out.status.success(), "{args:?} used the path");
        assert!(
            stderr(&out).contains(&fifo.display().to_string()),
            "{args:?}: the error names the bad diff ID: {}",
            stderr(&out)
        );
    }
    let out = berth_within(&b, &["image", "rm", id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(fifo.join("meta.json").exists(), "rm left the path alone");
}
