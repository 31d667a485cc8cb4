//! The state root, run directory, runtime root and image store are root's alone; specs, records
//! and logs 0600 (any user listed them, read `-e` secrets and walked into containers' root
//! filesystems); bind-mount and volume directories keep the modes containers need.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

/// As `nobody`: `program args` succeeded?
fn nobody_can(program: &str, args: &[&Path]) -> bool {
    Command::new(tool("setpriv", "util-linux"))
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(tool(program, "coreutils"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn the_state_root_and_run_directory_are_root_s_alone() {
    if !root_or_skip("the_state_root_and_run_directory_are_root_s_alone") {
        return;
    }
    let b = Berth::new();
    // The test's own directory is open, so only berth's modes stand between nobody and it.
    std::fs::set_permissions(b.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    b.busybox_image("bb:1");
    let id = b
        .cli_ok(&[
            "run",
            "-d",
            "-e",
            "SECRET=hunter2",
            "-v",
            "data:/data",
            "bb:1",
            "sh",
            "-c",
            "echo out; sleep 1000",
        ])
        .trim()
        .to_string();
    let state = b.path().join("state");
    let run = state.join("run");
    let dir = state.join("containers").join(&id);
    let log = dir.join(format!("{id}-json.log"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("out")) {
        assert!(Instant::now() < deadline, "no log line");
        std::thread::sleep(Duration::from_millis(20));
    }
    for d in [&state, &run, &run.join("runtime"), &state.join("image")] {
        assert_eq!(mode(d), 0o700, "{}", d.display());
    }
    let private_files = [
        state.join("berth.db"),
        dir.join("bundle/config.json"),
        dir.join("monitor.json"),
        log.clone(),
        run.join("containers").join(&id).join("running.json"),
        run.join("runtime").join(&id).join("config.json"),
        run.join("runtime").join(&id).join("state.json"),
    ];
    for f in &private_files {
        assert_eq!(mode(f) & 0o077, 0, "{} is readable by others", f.display());
    }
    // The roots themselves can be stat'ed (their parent is open), not listed; nothing under
    // them can be either.
    for d in [&state, &run] {
        assert!(!nobody_can("ls", &[d]), "nobody lists {}", d.display());
    }
    let under = [
        state.join("containers"),
        dir.clone(),
        dir.join("rootfs"),
        dir.join("rootfs/bin/busybox"),
        state.join("image"),
        state.join("image/layers"),
        state.join("volumes"),
        state.join("volumes/data/_data"),
        run.join("containers"),
        run.join("runtime"),
        run.join("runtime").join(&id),
    ];
    for p in under.iter().chain(&private_files) {
        assert!(
            std::fs::symlink_metadata(p).is_ok(),
            "{} exists (the check means something)",
            p.display()
        );
        assert!(!nobody_can("stat", &[p]), "nobody stats {}", p.display());
        assert!(!nobody_can("ls", &[p]), "nobody lists {}", p.display());
    }
    for f in &private_files {
        assert!(!nobody_can("cat", &[f]), "nobody reads {}", f.display());
    }
    b.cli_ok(&["container", "rm", "-f", &id]);
}

#[test]
fn an_existing_state_root_is_made_private_on_open() {
    if !root_or_skip("an_existing_state_root_is_made_private_on_open") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    b.cli_ok(&["container", "create", "--name", "c1", "bb:1", "true"]);
    b.cli_ok(&["container", "start", "c1"]);
    let state = b.path().join("state");
    let run = state.join("run");
    // As an older berth left them.
    for d in [&state, &run, &run.join("runtime"), &state.join("image")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(
        state.join("berth.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    b.cli_ok(&["ps", "-a"]);
    for d in [&state, &run, &run.join("runtime"), &state.join("image")] {
        assert_eq!(mode(d), 0o700, "{} was not corrected", d.display());
    }
    assert_eq!(mode(&state.join("berth.db")), 0o600);
    // The container made before still starts.
    b.cli_ok(&["container", "start", "c1"]);
    // `image` commands, which open only the store, correct them too.
    for d in [&state, &run, &state.join("image")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    b.ok(&["image", "ls"]);
    for d in [&state, &run, &state.join("image")] {
        assert_eq!(mode(d), 0o700, "{} was not corrected", d.display());
    }
    b.cli_ok(&["container", "rm", "-f", "c1"]);
}

#[test]
fn a_non_root_container_still_uses_named_volumes_and_new_bind_directories() {
    if !root_or_skip("a_non_root_container_still_uses_named_volumes_and_new_bind_directories") {
        return;
    }
    let b = Berth::new();
    // /data owned by 1000, mode 0750: the volume's _data takes them.
    let mut t = tar::Builder::new(Vec::new());
    let mut h = header(tar::EntryType::Directory, "data", 0o750, 0);
    h.set_uid(1000);
    h.set_gid(1000);
    h.set_cksum();
    t.append(&h, std::io::empty()).unwrap();
    b.busybox_image_with(
        "app:1",
        vec![t.into_inner().unwrap()],
        json!({"Cmd": ["/bin/sh"], "User": "1000:1000"}),
    );
    let bind = b.path().join("new/host/dir");
    let spec = format!("{}:/x", bind.display());
    let out = b.cli_ok(&[
        "run",
        "--rm",
        "-v",
        "vol:/data",
        "-v",
        &spec,
        "app:1",
        "sh",
        "-c",
        "id -u && echo hi > /data/f && cat /data/f && ls -ld /x",
    ]);
    assert!(out.starts_with("1000\nhi\n"), "{out}");
    for d in [
        b.path().join("new"),
        b.path().join("new/host"),
        bind.clone(),
    ] {
        assert_eq!(mode(&d), 0o755, "{} (Docker makes 0755)", d.display());
    }
    let data = b.path().join("state/volumes/vol/_data");
    assert_eq!(mode(&data), 0o750, "the volume keeps the image's mode");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&data).unwrap().uid(), 1000);
}
