//! The image store through the CLI: import, load, save, ls, inspect, tag, rm, prune, history,
//! mount; round trips with skopeo, trees compared with `umoci unpack`.

use std::path::Path;
use std::process::Command;

use crate::support::*;

fn import_busybox(b: &Berth, name: &str) -> String {
    let tar = b.path().join("busybox.tar");
    std::fs::write(&tar, busybox_rootfs_tar()).unwrap();
    b.ok(&["image", "import", tar.to_str().unwrap(), name])
        .trim()
        .to_string()
}

#[test]
fn import_then_ls_inspect_history_and_mount() {
    if !root_or_skip("import_then_ls_inspect_history_and_mount") {
        return;
    }
    let b = Berth::new();
    let id = import_busybox(&b, "busybox");
    assert!(
        id.starts_with("sha256:") && id.len() == 71,
        "import prints the ID: {id}"
    );

    let ls = b.ok(&["image", "ls"]);
    assert!(
        ls.contains("busybox") && ls.contains("latest") && ls.contains(&id[7..19]),
        "{ls}"
    );
    assert_eq!(b.ok(&["images"]), ls, "`berth images` is `berth image ls`");
    let json: serde_json::Value =
        serde_json::from_str(&b.ok(&["image", "ls", "--format", "json"])).unwrap();
    assert_eq!(json[0]["Repository"], "busybox", "{json}");

    let inspect: serde_json::Value =
        serde_json::from_str(&b.ok(&["image", "inspect", "busybox"])).unwrap();
    let img = &inspect[0];
    assert_eq!(img["Id"], id.as_str());
    assert_eq!(img["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(img["Os"], "linux");
    assert_eq!(img["RootFS"]["Type"], "layers");
    assert_eq!(img["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    // Any unique ID prefix names the image.
    b.ok(&["image", "inspect", &id[7..14]]);

    let history = b.ok(&["image", "history", "busybox"]);
    assert!(
        history.lines().count() >= 2,
        "header and one layer: {history}"
    );

    let mnt = b.path().join("mnt");
    b.mount_image("busybox:latest", &mnt);
    let busybox = std::fs::read(mnt.join("bin/busybox")).unwrap();
    assert_eq!(busybox, std::fs::read("/bin/busybox").unwrap());
    use std::os::unix::fs::PermissionsExt;
    let tmp = std::fs::metadata(mnt.join("tmp")).unwrap();
    assert_eq!(
        tmp.permissions().mode() & 0o7777,
        0o1777,
        "modes kept exactly"
    );
    assert_eq!(
        std::fs::read_link(mnt.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
}

#[test]
fn save_load_round_trip_and_skopeo_reads_the_archive() {
    if !root_or_skip("save_load_round_trip_and_skopeo_reads_the_archive") {
        return;
    }
    let skopeo = tool("skopeo", "skopeo");
    let b = Berth::new();
    let id = import_busybox(&b, "busybox:1.36");
    b.ok(&["image", "tag", "busybox:1.36", "localhost:5000/team/bb:v1"]);
    let archive = b.path().join("saved.tar");
    b.ok(&[
        "image",
        "save",
        "-o",
        archive.to_str().unwrap(),
        "busybox:1.36",
        "localhost:5000/team/bb:v1",
    ]);

    let fresh = Berth::new();
    let out = fresh.ok(&["image", "load", "-i", archive.to_str().unwrap()]);
    assert!(
        out.contains("busybox:1.36") && out.contains("localhost:5000/team/bb:v1"),
        "{out}"
    );
    let inspect: serde_json::Value =
        serde_json::from_str(&fresh.ok(&["image", "inspect", "localhost:5000/team/bb:v1"]))
            .unwrap();
    assert_eq!(
        inspect[0]["Id"],
        id.as_str(),
        "the ID survives save and load"
    );

    let st = Command::new(&skopeo)
        .args([
            "inspect",
            &format!("docker-archive:{}:busybox:1.36", archive.display()),
        ])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "skopeo inspect: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let oci = b.path().join("oci-copy");
    let st = Command::new(&skopeo)
        .args([
            "copy",
            &format!("docker-archive:{}:busybox:1.36", archive.display()),
            &format!("oci:{}:copied", oci.display()),
        ])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&st.stderr)
    );
}

/// Three layers: a deleted file, an opaque directory, a parent directory the tar does not
/// list, owners, setuid, symlinks and hard links.
fn three_layers() -> Vec<Vec<u8>> {
    let mut l1 = tar::Builder::new(Vec::new());
    add_dir(&mut l1, "etc", 0o755);
    add_file(&mut l1, "etc/a", b"a\n", 0o644);
    add_file(&mut l1, "etc/b", b"b\n", 0o600);
    add_dir(&mut l1, "opt", 0o755);
    add_dir(&mut l1, "opt/keep", 0o755);
    add_file(&mut l1, "opt/keep/x", b"x\n", 0o644);
    add_dir(&mut l1, "opt/drop", 0o750);
    add_file(&mut l1, "opt/drop/y", b"y\n", 0o644);
    let mut l2 = tar::Builder::new(Vec::new());
    add_file(&mut l2, "etc/.wh.a", b"", 0o644);
    add_dir(&mut l2, "opt/drop", 0o755);
    add_file(&mut l2, "opt/drop/.wh..wh..opq", b"", 0o644);
    add_file(&mut l2, "opt/drop/z", b"z\n", 0o644);
    add_file(&mut l2, "unlisted/parent/file", b"deep\n", 0o644);
    let mut l3 = tar::Builder::new(Vec::new());
    add_file_owned(&mut l3, "home/user/data", b"mine\n", 0o640, 1000, 1000);
    add_file(&mut l3, "usr/bin/su", b"#!/bin/sh\n", 0o4755);
    add_symlink(&mut l3, "etc/link", "../opt/keep/x");
    add_file(&mut l3, "etc/c", b"c\n", 0o600);
    // A hard link within the layer (layers are self-contained: a link into a lower layer is
    // refused, as overlay could not keep it a link).
    let mut h = header(tar::EntryType::Link, "etc/hard", 0o644, 0);
    h.set_link_name("etc/c").unwrap();
    h.set_cksum();
    l3.append(&h, std::io::empty()).unwrap();
    vec![
        l1.into_inner().unwrap(),
        l2.into_inner().unwrap(),
        l3.into_inner().unwrap(),
    ]
}

#[test]
fn three_layer_image_matches_umoci_unpack() {
    if !root_or_skip("three_layer_image_matches_umoci_unpack") {
        return;
    }
    let umoci = tool("umoci", "umoci");
    let b = Berth::new();
    let layout = b.path().join("layout");
    write_oci_layout(&layout, &three_layers(), "three");
    let bundle = b.path().join("bundle");
    let st = Command::new(&umoci)
        .args([
            "unpack",
            "--image",
            &format!("{}:three", layout.display()),
            bundle.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "umoci unpack: {}",
        String::from_utf8_lossy(&st.stderr)
    );

    let archive = b.path().join("three.tar");
    std::fs::write(&archive, tar_dir(&layout)).unwrap();
    b.ok(&[
        "image",
        "load",
        "-i",
        archive.to_str().unwrap(),
        "--name",
        "example.com/three",
    ]);
    let mnt = b.path().join("mnt");
    b.mount_image("example.com/three:three", &mnt);

    let ours = tree_listing(&mnt);
    let theirs = tree_listing(&bundle.join("rootfs"));
    assert!(!ours.contains_key("etc/a"), "the whiteout deletes etc/a");
    assert!(
        !ours.contains_key("opt/drop/y"),
        "the opaque directory hides opt/drop/y"
    );
    let diff: Vec<String> = ours
        .keys()
        .chain(theirs.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| ours.get(*k) != theirs.get(*k))
        .map(|k| format!("{k}: berth {:?} umoci {:?}", ours.get(k), theirs.get(k)))
        .collect();
    assert!(diff.is_empty(), "trees differ:\n{}", diff.join("\n"));
}

#[test]
fn sixty_layer_image_mounts() {
    if !root_or_skip("sixty_layer_image_mounts") {
        return;
    }
    let layers: Vec<Vec<u8>> = (0..60)
        .map(|i| {
            let mut l = tar::Builder::new(Vec::new());
            add_file(
                &mut l,
                &format!("layer-{i:02}"),
                format!("{i}\n").as_bytes(),
                0o644,
            );
            l.into_inner().unwrap()
        })
        .collect();
    let b = Berth::new();
    let layout = b.path().join("layout");
    write_oci_layout(&layout, &layers, "sixty");
    let archive = b.path().join("sixty.tar");
    std::fs::write(&archive, tar_dir(&layout)).unwrap();
    b.ok(&[
        "image",
        "load",
        "-i",
        archive.to_str().unwrap(),
        "--name",
        "sixty",
    ]);
    let mnt = b.path().join("mnt");
    b.mount_image("sixty:sixty", &mnt);
    for i in 0..60 {
        assert_eq!(
            std::fs::read_to_string(mnt.join(format!("layer-{i:02}"))).unwrap(),
            format!("{i}\n")
        );
    }
}

#[test]
fn hostile_archive_is_refused_and_nothing_stays() {
    if !root_or_skip("hostile_archive_is_refused_and_nothing_stays") {
        return;
    }
    let b = Berth::new();
    import_busybox(&b, "busybox");
    let before = b.state_files();
    let mut a = tar::Builder::new(Vec::new());
    let manifest = br#"[{"Config":"config.json","RepoTags":["evil:latest"],"Layers":["../../../../etc/passwd"]}]"#;
    add_file(&mut a, "manifest.json", manifest, 0o644);
    add_file(&mut a, "config.json", br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#, 0o644);
    let archive = b.path().join("evil.tar");
    std::fs::write(&archive, a.into_inner().unwrap()).unwrap();
    let err = b.fails(&["image", "load", "-i", archive.to_str().unwrap()]);
    assert!(
        err.contains("../../../../etc/passwd"),
        "the error names the entry: {err}"
    );
    assert_eq!(b.state_files(), before, "nothing registered or left behind");
    let ls = b.ok(&["image", "ls"]);
    assert!(!ls.contains("evil"), "{ls}");
}

#[test]
fn rm_untags_then_deletes_and_prune_removes_dangling() {
    if !root_or_skip("rm_untags_then_deletes_and_prune_removes_dangling") {
        return;
    }
    let b = Berth::new();
    let id = import_busybox(&b, "app:1");
    b.ok(&["image", "tag", "app:1", "app:2"]);
    let out = b.ok(&["image", "rm", "app:1"]);
    assert!(out.contains("Untagged: app:1"), "{out}");
    assert!(
        !out.contains("Deleted"),
        "another tag still names it: {out}"
    );
    b.ok(&["image", "tag", "app:2", "app:3"]);
    let err = b.fails(&["image", "rm", &id[7..19]]);
    assert!(
        err.contains("app:2") && err.contains("-f"),
        "an ID with several tags needs -f: {err}"
    );
    let out = b.ok(&["rmi", "app:2"]);
    assert_eq!(out.trim(), "Untagged: app:2");
    let out = b.ok(&["rmi", &id[7..19]]);
    assert!(
        out.contains("Untagged: app:3") && out.contains(&format!("Deleted: {id}")),
        "{out}"
    );
    assert!(!b.ok(&["image", "ls"]).contains("app"));
    let err = b.fails(&["image", "inspect", "app:2"]);
    assert!(err.contains("app:2"), "{err}");
    // Nothing of the image's layers is left.
    let left: Vec<String> = b
        .state_files()
        .into_iter()
        .filter(|p| p.contains("/diff/"))
        .collect();
    assert!(left.is_empty(), "layers left: {left:?}");
}

#[test]
fn prune_removes_only_untagged_images() {
    if !root_or_skip("prune_removes_only_untagged_images") {
        return;
    }
    let b = Berth::new();
    let first = import_busybox(&b, "keep:1");
    let tar = b.path().join("busybox.tar");
    // Importing again under the same tag leaves the first image untagged (dangling).
    let second = b
        .ok(&["image", "import", tar.to_str().unwrap(), "keep:1"])
        .trim()
        .to_string();
    assert_ne!(
        first, second,
        "a new import is a new image (its config records the time)"
    );
    let ls = b.ok(&["image", "ls"]);
    assert!(ls.contains("<none>"), "{ls}");
    let out = b.ok(&["image", "prune"]);
    assert!(
        out.contains(&format!("Deleted: {first}")) && !out.contains(&second),
        "{out}"
    );
    assert!(!b.ok(&["image", "ls"]).contains("<none>"));
    let out = b.ok(&["image", "prune", "-a"]);
    assert!(out.contains(&format!("Deleted: {second}")), "{out}");
}
