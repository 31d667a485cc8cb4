//! Volumes, binds, tmpfs and volumes_from on real containers (root, private network
//! namespace per berth command).

use crate::support::*;

fn inspect(b: &Berth, kind: &str, name: &str) -> serde_json::Value {
    b.inspect(kind, name)
}

fn volume_names(b: &Berth) -> Vec<String> {
    b.cli_ok(&["volume", "ls", "-q"])
        .lines()
        .map(String::from)
        .collect()
}

/// A layer with `dir` owned by `uid:gid`, mode `mode`, holding a file `seed`.
fn owned_dir_layer(dir: &str, uid: u64, mode: u32) -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    let mut parent = String::new();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        if !parent.is_empty() {
            parent.push('/');
        }
        parent.push_str(part);
        if parent != dir.trim_start_matches('/') {
            add_dir(&mut t, &parent, 0o755);
        }
    }
    let mut h = header(
        tar::EntryType::Directory,
        dir.trim_start_matches('/'),
        mode,
        0,
    );
    h.set_uid(uid);
    h.set_gid(uid);
    h.set_cksum();
    t.append(&h, std::io::empty()).unwrap();
    add_file_owned(
        &mut t,
        &format!("{}/seed", dir.trim_start_matches('/')),
        b"from the image\n",
        0o600,
        uid,
        uid,
    );
    t.into_inner().unwrap()
}

#[test]
fn named_volume_data_outlives_its_containers() {
    if !root_or_skip("named_volume_data_outlives_its_containers") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    assert_eq!(
        b.cli_ok(&["volume", "create", "--label", "team=db", "data"])
            .trim(),
        "data"
    );
    let v = inspect(&b, "volume", "data");
    assert_eq!(v["Labels"]["team"], "db");
    assert_eq!(v["Driver"], "local");
    assert!(v["Mountpoint"]
        .as_str()
        .unwrap()
        .ends_with("/volumes/data/_data"));
    b.cli_ok(&[
        "run",
        "--rm",
        "-v",
        "data:/data",
        "bb:1",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    let out = b.cli_ok(&["run", "--rm", "-v", "data:/data", "bb:1", "cat", "/data/f"]);
    assert_eq!(out, "kept\n");
    // A volume named at run is created on first use; both are listed.
    b.cli_ok(&["run", "--rm", "-v", "other:/o", "bb:1", "true"]);
    assert_eq!(volume_names(&b), vec!["data", "other"]);
    let bad = b.cli(&["volume", "create", "no/slash"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("not a valid volume name"),
        "{}",
        stderr(&bad)
    );
    b.cli_ok(&["volume", "rm", "data", "other"]);
    assert!(volume_names(&b).is_empty());
    assert!(mounts_of(&b).is_empty(), "{:?}", mounts_of(&b));
}

#[test]
fn volumes_are_filled_from_the_image_with_owner_and_mode() {
    if !root_or_skip("volumes_are_filled_from_the_image_with_owner_and_mode") {
        return;
    }
    let b = Berth::new();
    b.busybox_image_with(
        "db:1",
        vec![owned_dir_layer("var/lib/db", 999, 0o700)],
        serde_json::json!({
            "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/sh"],
            "Volumes": {"/var/lib/db": {}},
        }),
    );
    let show = "stat -c '%u:%g %a' /var/lib/db; cat /var/lib/db/seed";
    // The image's VOLUME gets an anonymous volume, filled from the image.
    let out = b.cli_ok(&["run", "--name", "d1", "db:1", "sh", "-c", show]);
    assert_eq!(out, "999:999 700\nfrom the image\n");
    let m = &inspect(&b, "container", "d1")["Mounts"][0];
    assert_eq!(m["Type"], "volume");
    assert_eq!(m["Destination"], "/var/lib/db");
    assert_eq!(m["RW"], true);
    let anon = m["Name"].as_str().unwrap().to_string();
    assert_eq!(anon.len(), 64, "{m}");
    // A named volume is filled the same way, once: what the container deletes stays deleted.
    let out = b.cli_ok(&[
        "run",
        "--rm",
        "-v",
        "dbdata:/var/lib/db",
        "db:1",
        "sh",
        "-c",
        show,
    ]);
    assert_eq!(out, "999:999 700\nfrom the image\n");
    b.cli_ok(&[
        "run",
        "--rm",
        "-v",
        "dbdata:/var/lib/db",
        "db:1",
        "rm",
        "/var/lib/db/seed",
    ]);
    let out = b.cli_ok(&[
        "run",
        "--rm",
        "-v",
        "dbdata:/var/lib/db",
        "db:1",
        "ls",
        "/var/lib/db",
    ]);
    assert_eq!(out, "");
    // nocopy leaves a new volume empty.
    let out = b.cli_ok(&[
        "run",
        "--rm",
        "-v",
        "empty:/var/lib/db:nocopy",
        "db:1",
        "ls",
        "/var/lib/db",
    ]);
    assert_eq!(out, "");
    // rm -v removes the anonymous volume, never a named one.
    let mut names = volume_names(&b);
    names.sort();
    let mut want = vec![anon.clone(), "dbdata".into(), "empty".into()];
    want.sort();
    assert_eq!(names, want);
    b.cli_ok(&["container", "rm", "-v", "d1"]);
    assert_eq!(volume_names(&b), vec!["dbdata", "empty"]);
    // A --rm container takes its anonymous volumes with it.
    b.cli_ok(&["run", "--rm", "db:1", "true"]);
    assert_eq!(volume_names(&b), vec!["dbdata", "empty"]);
    // prune takes unused anonymous volumes only; -a the named ones too.
    b.cli_ok(&["container", "create", "--name", "d2", "db:1"]);
    b.cli_ok(&["container", "rm", "d2"]);
    assert_eq!(
        volume_names(&b).len(),
        3,
        "rm without -v keeps the anonymous volume"
    );
    b.cli_ok(&["volume", "prune"]);
    assert_eq!(volume_names(&b), vec!["dbdata", "empty"]);
    b.cli_ok(&["volume", "prune", "-a"]);
    assert!(volume_names(&b).is_empty());
}

#[test]
fn binds_are_read_only_when_asked_and_created_by_dash_v() {
    if !root_or_skip("binds_are_read_only_when_asked_and_created_by_dash_v") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    let src = b.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("sub/file"), "host data\n").unwrap();
    let ro = format!("{}:/in:ro", src.display());
    let out = b.cli(&[
        "run",
        "--rm",
        "-v",
        &ro,
        "bb:1",
        "sh",
        "-c",
        "cat /in/sub/file; echo x > /in/new || echo refused",
    ]);
    assert_eq!(stdout(&out), "host data\nrefused\n", "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    assert!(!src.join("new").exists());
    // A read-only bind of a nosuid,nodev,noexec mount keeps those flags.
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = rustix::mount::unmount(&self.0, rustix::mount::UnmountFlags::DETACH);
        }
    }
    let locked = b.path().join("locked");
    std::fs::create_dir_all(&locked).unwrap();
    use rustix::mount::MountFlags as F;
    rustix::mount::mount(
        "tmpfs",
        &locked,
        "tmpfs",
        F::NOSUID | F::NODEV | F::NOEXEC,
        None,
    )
    .unwrap();
    let _guard = Unmount(locked.clone());
    let v = format!("{}:/locked:ro", locked.display());
    let out = b.cli_ok(&[
        "run",
        "--rm",
        "-v",
        &v,
        "bb:1",
        "grep",
        " /locked ",
        "/proc/mounts",
    ]);
    for flag in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(
            out.split([' ', ',']).any(|f| f == flag),
            "{flag} kept: {out}"
        );
    }
    drop(_guard);
    // --mount readonly, and a writable bind writes through to the host.
    let m = format!("type=bind,src={},dst=/in,readonly", src.display());
    let out = b.cli(&["run", "--rm", "--mount", &m, "bb:1", "touch", "/in/x"]);
    assert!(!out.status.success());
    let rw = format!("{}:/in", src.display());
    b.cli_ok(&[
        "run",
        "--rm",
        "-v",
        &rw,
        "bb:1",
        "sh",
        "-c",
        "echo w > /in/written",
    ]);
    assert_eq!(std::fs::read_to_string(src.join("written")).unwrap(), "w\n");
    // -v creates a missing host directory; --mount refuses it.
    let made = b.path().join("made/here");
    let v = format!("{}:/m", made.display());
    b.cli_ok(&["run", "--rm", "-v", &v, "bb:1", "true"]);
    assert!(made.is_dir());
    let missing = format!(
        "type=bind,src={},dst=/m",
        b.path().join("missing").display()
    );
    let out = b.cli(&["run", "--rm", "--mount", &missing, "bb:1", "true"]);
    assert!(
        stderr(&out).contains("bind source path does not exist"),
        "{}",
        stderr(&out)
    );
    // Relative targets and the kernel's paths are refused.
    for target in ["rel", "/proc/x", "/sys"] {
        let v = format!("{}:{target}", src.display());
        let out = b.cli(&["container", "create", "-v", &v, "bb:1"]);
        assert!(!out.status.success(), "{target}");
    }
    // tmpfs with a size and mode, from --mount.
    let out = b.cli_ok(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,dst=/scratch,tmpfs-size=1m,tmpfs-mode=700",
        "bb:1",
        "sh",
        "-c",
        "stat -c %a /scratch; grep ' /scratch ' /proc/mounts",
    ]);
    assert!(out.starts_with("700\n"), "{out}");
    assert!(out.contains("tmpfs") && out.contains("size=1024k"), "{out}");
    assert!(mounts_of(&b).is_empty(), "{:?}", mounts_of(&b));
}

#[test]
fn volumes_from_shares_the_same_files() {
    if !root_or_skip("volumes_from_shares_the_same_files") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    let src = b.path().join("shared-bind");
    std::fs::create_dir_all(&src).unwrap();
    let bind = format!("{}:/b", src.display());
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "owner",
        "-v",
        "shared:/s",
        "-v",
        &bind,
        "bb:1",
        "sleep",
        "1000",
    ]);
    b.cli_ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "owner",
        "bb:1",
        "sh",
        "-c",
        "echo from-friend > /s/f; echo bound > /b/g",
    ]);
    assert_eq!(b.cli_ok(&["exec", "owner", "cat", "/s/f"]), "from-friend\n");
    assert_eq!(std::fs::read_to_string(src.join("g")).unwrap(), "bound\n");
    let out = b.cli(&[
        "run",
        "--rm",
        "--volumes-from",
        "owner:ro",
        "bb:1",
        "touch",
        "/s/nope",
    ]);
    assert!(!out.status.success(), "volumes_from :ro is read-only");
    // A volume in use cannot be removed; the error names the container, -f or not.
    for args in [
        vec!["volume", "rm", "shared"],
        vec!["volume", "rm", "-f", "shared"],
    ] {
        let out = b.cli(&args);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("owner"), "{}", stderr(&out));
    }
    b.cli_ok(&["container", "stop", "-t", "0", "owner"]);
    let out = b.cli(&["volume", "rm", "shared"]);
    assert!(stderr(&out).contains("in use by owner"), "{}", stderr(&out));
    b.cli_ok(&["container", "rm", "owner"]);
    b.cli_ok(&["volume", "rm", "shared"]);
    assert!(mounts_of(&b).is_empty(), "{:?}", mounts_of(&b));
}

#[test]
fn a_hostile_images_symlinks_never_reach_the_host() {
    if !root_or_skip("a_hostile_images_symlinks_never_reach_the_host") {
        return;
    }
    let b = Berth::new();
    // A host directory the image's symlinks point at by absolute path.
    let host = b.path().join("host-target");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("secret"), "host file\n").unwrap();
    let mut t = tar::Builder::new(Vec::new());
    add_symlink(&mut t, "evil", host.to_str().unwrap());
    add_symlink(&mut t, "etclink", "/etc");
    add_symlink(&mut t, "tmplink", "/tmp");
    b.busybox_image_with(
        "evil:1",
        vec![t.into_inner().unwrap()],
        serde_json::json!({"Cmd": ["/bin/sh"]}),
    );
    // A mount target below a symlink to a host path that the image lacks: refused, and
    // nothing is made or mounted on the host.
    let out = b.cli(&[
        "run",
        "--rm",
        "-v",
        "v1:/evil/sub",
        "evil:1",
        "sh",
        "-c",
        "echo in > /evil/sub/f",
    ]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        !host.join("sub").exists(),
        "the mount point was made on the host"
    );
    assert_eq!(
        std::fs::read_dir(&host).unwrap().count(),
        1,
        "the host directory changed"
    );
    // Below a symlink to a path the image has (/tmp): made inside the root, not on the host.
    let name = format!("berth-volume-test-{}", std::process::id());
    let target = format!("v1:/tmplink/{name}");
    let out = b.cli_ok(&[
        "run",
        "--rm",
        "-v",
        &target,
        "evil:1",
        "sh",
        "-c",
        &format!("echo in > /tmp/{name}/f; ls /tmp"),
    ]);
    assert!(out.contains(&name), "{out}");
    assert!(
        !std::path::Path::new("/tmp").join(&name).exists(),
        "the mount point was made on the host's /tmp"
    );
    // Filling a volume follows the image's symlink inside the root: the image's /etc, never
    // the host's.
    b.cli_ok(&["run", "--rm", "-v", "v2:/etclink", "evil:1", "true"]);
    let data = std::path::PathBuf::from(
        inspect(&b, "volume", "v2")["Mountpoint"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let mut names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // The image's two files, and the mount points of the files berth binds into /etc.
    assert_eq!(
        names,
        vec!["group", "hostname", "hosts", "passwd", "resolv.conf"]
    );
    assert!(std::fs::read_to_string(data.join("passwd"))
        .unwrap()
        .starts_with("root:x:0:0:root:/root:/bin/sh\nnobody:"));
    assert!(mounts_of(&b).is_empty(), "{:?}", mounts_of(&b));
}

#[test]
fn driver_options_make_tmpfs_and_bind_volumes() {
    if !root_or_skip("driver_options_make_tmpfs_and_bind_volumes") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    b.cli_ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "o=size=2m",
        "scratch",
    ]);
    let out = b.cli_ok(&[
        "run",
        "--rm",
        "-v",
        "scratch:/t",
        "bb:1",
        "sh",
        "-c",
        "echo a > /t/a; grep ' /t ' /proc/mounts",
    ]);
    assert!(out.contains("tmpfs") && out.contains("size=2048k"), "{out}");
    let dev = b.path().join("device");
    std::fs::create_dir_all(&dev).unwrap();
    let device = format!("device={}", dev.display());
    b.cli_ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &device,
        "bound",
    ]);
    b.cli_ok(&[
        "run",
        "--rm",
        "-v",
        "bound:/d",
        "bb:1",
        "sh",
        "-c",
        "echo d > /d/x",
    ]);
    assert_eq!(std::fs::read_to_string(dev.join("x")).unwrap(), "d\n");
    let out = b.cli(&[
        "volume",
        "create",
        "-o",
        "type=nfs",
        "-o",
        "o=addr=127.0.0.1",
        "n",
    ]);
    assert!(stderr(&out).contains("type=nfs"), "{}", stderr(&out));
    b.cli_ok(&["volume", "rm", "scratch", "bound"]);
    assert!(
        dev.join("x").exists(),
        "removing a bind volume keeps the host's files"
    );
    assert!(mounts_of(&b).is_empty(), "{:?}", mounts_of(&b));
}
