//! `berth image mount` gives no setuid binary, file capability or device of an image to the
//! host (it mounted them with only MS_RDONLY: a setuid-root binary ran as root for any user).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::{load, one_file_layer, sha, Oci};
use crate::support::*;

/// A layer with a setuid-root copy of the host's `id` (coreutils: it keeps the privilege, as
/// busybox's applets do not) and a copy of `cat` with a file capability.
fn setuid_layer() -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    for d in ["usr", "usr/bin"] {
        add_dir(&mut t, d, 0o755);
    }
    let id = std::fs::read(tool("id", "coreutils")).unwrap();
    add_file(&mut t, "usr/bin/id", &id, 0o4755);
    // security.capability v2: effective, permitted CAP_DAC_READ_SEARCH (2).
    let mut cap = Vec::new();
    for word in [0x0200_0001u32, 1 << 2, 0, 0, 0] {
        cap.extend_from_slice(&word.to_le_bytes());
    }
    let cat = std::fs::read(tool("cat", "coreutils")).unwrap();
    t.append_pax_extensions([("SCHILY.xattr.security.capability", cap.as_slice())])
        .unwrap();
    add_file(&mut t, "usr/bin/capcat", &cat, 0o755);
    t.into_inner().unwrap()
}

/// Unmounts its path when dropped (a test that fails midway leaves no mount).
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.0, rustix::mount::UnmountFlags::DETACH);
    }
}

fn as_nobody(program: &Path, args: &[&str]) -> String {
    let out = Command::new(tool("setpriv", "util-linux"))
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(program)
        .args(args)
        .output()
        .unwrap();
    format!("{}{}", stdout(&out), stderr(&out))
}

#[test]
fn image_mount_is_nosuid_and_nodev() {
    if !root_or_skip("image_mount_is_nosuid_and_nodev") {
        return;
    }
    let b = Berth::new();
    std::fs::set_permissions(b.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let layer = setuid_layer();
    let (out, _) = load(
        &b,
        "suid.tar",
        &Oci::new(vec![layer.clone()], vec![sha(&layer)]).archive(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // The same image with two layers (no empty layer added), to cover both mount shapes.
    let top = one_file_layer("top", b"top");
    let (out, _) = load(
        &b,
        "suid2.tar",
        &Oci {
            edit_index: &|i| {
                i["annotations"]["org.opencontainers.image.ref.name"] = json!("example.com/trust:2")
            },
            ..Oci::new(
                vec![layer.clone(), top.clone()],
                vec![sha(&layer), sha(&top)],
            )
        }
        .archive(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for tag in ["example.com/trust:1", "example.com/trust:2"] {
        let mnt = b.path().join(format!("mnt-{}", &tag[tag.len() - 1..]));
        b.mount_image(tag, &mnt);
        let mode = std::fs::metadata(mnt.join("usr/bin/id"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o4000,
            0o4000,
            "the image's setuid bit is shown as is"
        );
        let id = as_nobody(&mnt.join("usr/bin/id"), &[]);
        assert!(
            id.contains("uid=65534") && !id.contains("euid=0"),
            "{tag}: the image's setuid binary ran as root on the host: {id}"
        );
        let status = as_nobody(&mnt.join("usr/bin/capcat"), &["/proc/self/status"]);
        let cap_eff = status
            .lines()
            .find(|l| l.starts_with("CapEff:"))
            .unwrap_or_else(|| panic!("{status}"));
        assert!(
            cap_eff.trim_end().ends_with("0000000000000000"),
            "{tag}: a file capability of the image applied on the host: {cap_eff}"
        );
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let line = info
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(mnt.to_str().unwrap()))
            .unwrap_or_else(|| panic!("{} not mounted", mnt.display()));
        let opts: Vec<&str> = line.split(' ').nth(5).unwrap().split(',').collect();
        for o in ["ro", "nosuid", "nodev"] {
            assert!(opts.contains(&o), "{tag}: mount options lack {o}: {line}");
        }
    }
    // A relative target is the caller's (the mount is made from the store directory).
    let rel = b.path().join("mnt-rel");
    std::fs::create_dir(&rel).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .current_dir(b.path())
        .arg("--root")
        .arg(b.path().join("state"))
        .args(["image", "mount", "example.com/trust:1", "mnt-rel"])
        .output()
        .unwrap();
    let _unmount = Unmount(rel.clone());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(rel.join("usr/bin/id").exists());
    // A container's root filesystem keeps setuid working inside it.
    b.busybox_image("bb:1");
    let info = b.cli_ok(&["run", "--rm", "bb:1", "cat", "/proc/self/mountinfo"]);
    let root = info
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .unwrap_or_else(|| panic!("{info}"));
    let opts = root.split(' ').nth(5).unwrap();
    assert!(
        !opts.contains("nosuid") && !opts.contains("nodev"),
        "the container's root must allow setuid: {root}"
    );
}
