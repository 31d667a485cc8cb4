//! Security: filling a volume from the image (copy-up) never writes where a running
//! container can reach at the same time, and never outside the volume. A container that
//! has the volume (or the directory behind it) mounted writable could swap a directory of it
//! for a symlink to a host path while another start fills it; a fill therefore waits until
//! no running container has it mounted, and the copy itself resolves every name inside the
//! volume without following symlinks (unit tests in `src/engine/volume/copy`).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::support::*;

/// The host directory behind a volume.
fn data_dir(b: &Berth, volume: &str) -> PathBuf {
    PathBuf::from(b.inspect("volume", volume)["Mountpoint"].as_str().unwrap())
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// An image whose `/data` holds a file `seed`.
fn seeded_image(b: &Berth) {
    let mut t = tar::Builder::new(Vec::new());
    add_dir(&mut t, "data", 0o755);
    add_file(&mut t, "data/seed", b"from the image\n", 0o644);
    b.busybox_image_with(
        "seeded:1",
        vec![t.into_inner().unwrap()],
        serde_json::json!({"Cmd": ["/bin/sh"]}),
    );
}

/// Starts `name` from `args` in the background, running until removed.
fn run_detached(b: &Berth, name: &str, args: &[&str]) {
    let mut all = vec!["run", "-d", "--name", name];
    all.extend_from_slice(args);
    all.extend_from_slice(&["sleep", "100000"]);
    b.cli_ok(&all);
}

#[test]
fn no_copy_into_a_volume_a_running_nocopy_container_has_mounted() {
    if !root_or_skip("no_copy_into_a_volume_a_running_nocopy_container_has_mounted") {
        return;
    }
    let b = Berth::new();
    seeded_image(&b);
    // -v V:/x:nocopy and --mount ...,volume-nocopy: the volume stays unfilled (no marker),
    // and a second container's start must not fill it under the first one's feet.
    let cases: [(&str, Vec<String>); 2] = [
        ("v1", vec!["-v".into(), "v1:/data:nocopy".into()]),
        (
            "v2",
            vec![
                "--mount".into(),
                "type=volume,src=v2,dst=/data,volume-nocopy=true".into(),
            ],
        ),
    ];
    for (vol, flags) in &cases {
        let holder = format!("holder-{vol}");
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let mut args = flags.clone();
        args.push("seeded:1");
        run_detached(&b, &holder, &args);
        let spec = format!("{vol}:/data");
        let out = b.cli(&["run", "--rm", "-v", &spec, "seeded:1", "ls", "-A", "/data"]);
        assert!(
            names_in(&data_dir(&b, vol)).is_empty(),
            "{vol} ({flags:?}): a start copied the image into a volume a running container \
             has mounted: {:?}",
            names_in(&data_dir(&b, vol))
        );
        assert!(out.status.success(), "{vol}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{vol}");
        // The user is told why, and by whom.
        let warning = stderr(&out);
        assert!(
            warning.contains(&format!("volume {vol} is not filled")) && warning.contains(&holder),
            "{vol}: {warning}"
        );
        // Stopped, the holder cannot change it any more: the next start fills it.
        b.cli_ok(&["container", "stop", "-t", "0", &holder]);
        let out = b.cli_ok(&["run", "--rm", "-v", &spec, "seeded:1", "ls", "-A", "/data"]);
        assert_eq!(out, "seed\n", "{vol}");
        b.cli_ok(&["container", "rm", &holder]);
        b.cli_ok(&["volume", "rm", vol]);
    }
}

#[test]
fn no_copy_into_a_directory_a_running_container_mounts_another_way() {
    if !root_or_skip("no_copy_into_a_directory_a_running_container_mounts_another_way") {
        return;
    }
    let b = Berth::new();
    seeded_image(&b);
    b.busybox_image("bb:1");
    let parent = b.path().join("shared");
    let device = parent.join("dev");
    std::fs::create_dir_all(&device).unwrap();
    let bind_volume = |name: &str| {
        let opt = format!("device={}", device.display());
        b.cli_ok(&[
            "volume",
            "create",
            "-o",
            "type=none",
            "-o",
            "o=bind",
            "-o",
            &opt,
            name,
        ]);
    };
    bind_volume("filled");
    bind_volume("fresh");
    let dev = device.display().to_string();
    let up = parent.display().to_string();
    // Without nocopy: a volume of the same device (filled once already, with nothing, by
    // an image without /data), the device bound directly, and its parent bound.
    let holders: [(&str, String); 3] = [
        ("same-device", "filled:/data".into()),
        ("direct-bind", format!("{dev}:/data")),
        ("parent-bind", format!("{up}:/up")),
    ];
    for (holder, spec) in &holders {
        run_detached(&b, holder, &["-v", spec, "bb:1"]);
        b.cli_ok(&["run", "--rm", "-v", "fresh:/data", "seeded:1", "true"]);
        assert!(
            names_in(&device).is_empty(),
            "{holder} ({spec}): a start copied the image into a directory a running \
             container has mounted: {:?}",
            names_in(&device)
        );
        b.cli_ok(&["container", "rm", "-f", holder]);
    }
    // Read-only, the holder cannot change it: the copy is made.
    run_detached(&b, "read-only", &["-v", &format!("{dev}:/data:ro"), "bb:1"]);
    b.cli_ok(&["run", "--rm", "-v", "fresh:/data", "seeded:1", "true"]);
    assert_eq!(names_in(&device), vec!["seed"]);
    b.cli_ok(&["container", "rm", "-f", "read-only"]);
    b.cli_ok(&["volume", "rm", "filled", "fresh"]);
}

/// A layer whose `/data` has two directories `c` and `d`, each holding `canary` (one file
/// with two names: whichever comes first is copied, the other linked to it) among `fill`
/// files of 1 MiB that keep the copy busy.
fn hard_link_layer(fill: usize) -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    add_dir(&mut t, "data", 0o755);
    let big = vec![b'x'; 1 << 20];
    for dir in ["c", "d"] {
        add_dir(&mut t, &format!("data/{dir}"), 0o755);
        for i in 0..fill {
            add_file(&mut t, &format!("data/{dir}/f{i:02}"), &big, 0o644);
        }
    }
    add_file(&mut t, "data/c/canary", b"from the image\n", 0o644);
    let mut h = header(tar::EntryType::Link, "data/d/canary", 0o644, 0);
    h.set_link_name("data/c/canary").unwrap();
    h.set_cksum();
    t.append(&h, std::io::empty()).unwrap();
    t.into_inner().unwrap()
}

/// The swapper: as soon as `canary` appears in `c` or `d`, that directory becomes a symlink
/// to the host directory `$1`; then it writes to any `canary` that holds the host's text.
const SWAPPER: &str = r#"
while :; do
  for p in c d; do
    if [ -f /x/$p/canary ]; then
      mv /x/$p /x/$p.old; ln -s "$1" /x/$p
      while :; do
        for q in c d; do
          if grep -q host /x/$q/canary 2>/dev/null; then echo container > /x/$q/canary; fi
        done
      done
    fi
  done
done
"#;

#[test]
fn a_container_swapping_a_directory_for_a_symlink_during_a_copy_never_reaches_the_host() {
    if !root_or_skip(
        "a_container_swapping_a_directory_for_a_symlink_during_a_copy_never_reaches_the_host",
    ) {
        return;
    }
    let b = Berth::new();
    b.busybox_image_with(
        "links:1",
        vec![hard_link_layer(16)],
        serde_json::json!({"Cmd": ["/bin/sh"]}),
    );
    // The host directory the swapper points at, on the volume's filesystem (a hard link
    // cannot cross filesystems).
    let host = b.path().join("host-dir");
    std::fs::create_dir_all(&host).unwrap();
    let canary = host.join("canary");
    std::fs::write(&canary, "host secret\n").unwrap();
    let host_arg = host.display().to_string();
    // A race: a few rounds, each with a new volume, a swapper and a filler.
    for round in 0..4 {
        let vol = format!("race{round}");
        let swapper = format!("swapper{round}");
        let spec = format!("{vol}:/x:nocopy");
        b.cli_ok(&[
            "run", "-d", "--name", &swapper, "-v", &spec, "links:1", "sh", "-c", SWAPPER, "sh",
            &host_arg,
        ]);
        let fill = format!("{vol}:/data");
        let filler = b.cli(&["run", "--rm", "-v", &fill, "links:1", "true"]);
        let m = std::fs::metadata(&canary).unwrap();
        assert_eq!(
            m.nlink(),
            1,
            "round {round}: the host file was linked into the volume (filler: {})",
            stderr(&filler)
        );
        assert_eq!(
            std::fs::read_to_string(&canary).unwrap(),
            "host secret\n",
            "round {round}: the container wrote the host file"
        );
        let mut seen = Vec::new();
        walk(&data_dir(&b, &vol), &mut seen);
        assert!(
            !seen.iter().any(|(_, ino)| *ino == m.ino()),
            "round {round}: the volume holds the host file: {seen:?}"
        );
        assert!(
            filler.status.success(),
            "round {round}: {}",
            stderr(&filler)
        );
        b.cli_ok(&["container", "rm", "-f", &swapper]);
        b.cli_ok(&["volume", "rm", &vol]);
    }
    assert_eq!(names_in(&host), vec!["canary"]);
}

/// Every path under `dir` (symlinks not followed) with its inode.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let m = std::fs::symlink_metadata(e.path()).unwrap();
        out.push((e.path(), m.ino()));
        if m.is_dir() {
            walk(&e.path(), out);
        }
    }
}
