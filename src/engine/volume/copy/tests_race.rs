//! Copy-up while the volume changes under it, as a container that has it mounted could
//! change it: a directory on the way to a hard link's first copy swapped for a symlink to a
//! host directory (at every depth), the first copy itself swapped, and a node made by the
//! copy swapped for a symlink to a host file before its owner, mode and times are set.
//! Nothing on the host is linked, written or changed; the copy stops with an error.

use super::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

/// A host directory with a file `canary` (mode 0600), below `dirs` when given.
struct Host {
    canary: PathBuf,
    before: std::fs::Metadata,
}

impl Host {
    fn new(base: &Path, dirs: &str) -> Host {
        let dir = base.join(dirs);
        std::fs::create_dir_all(&dir).unwrap();
        let canary = dir.join("canary");
        std::fs::write(&canary, b"host\n").unwrap();
        std::fs::set_permissions(&canary, std::fs::Permissions::from_mode(0o600)).unwrap();
        let before = std::fs::metadata(&canary).unwrap();
        Host { canary, before }
    }

    fn assert_untouched(&self, what: &str) {
        let now = std::fs::metadata(&self.canary).unwrap();
        assert_eq!(now.nlink(), 1, "{what}: the host file was linked");
        assert_eq!(
            now.mode(),
            self.before.mode(),
            "{what}: the host file's mode changed"
        );
        assert_eq!(
            (now.uid(), now.gid()),
            (self.before.uid(), self.before.gid()),
            "{what}: the host file's owner changed"
        );
        assert_eq!(
            (now.mtime(), now.mtime_nsec()),
            (self.before.mtime(), self.before.mtime_nsec()),
            "{what}: the host file's times changed"
        );
        assert_eq!(std::fs::read(&self.canary).unwrap(), b"host\n", "{what}");
    }
}

/// Every inode under `dir` (symlinks not followed).
fn inodes(dir: &Path, out: &mut Vec<u64>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let m = std::fs::symlink_metadata(e.path()).unwrap();
        out.push(m.ino());
        if m.is_dir() {
            inodes(&e.path(), out);
        }
    }
}

/// `path` in the volume moved aside and made a symlink to `target`.
fn swap(data: &Path, path: &Path, target: &Path) {
    let at = data.join(path);
    let mut aside = at.clone().into_os_string();
    aside.push(".aside");
    std::fs::rename(&at, &aside).unwrap();
    std::os::unix::fs::symlink(target, &at).unwrap();
}

#[test]
fn a_directory_on_the_way_to_a_hard_links_first_copy_swapped_for_a_symlink() {
    // One file with two names three directories down; whichever name is copied first, the
    // other is linked to it. Once the first is copied, one of its three directories (each
    // depth in turn) becomes a symlink to a host directory holding the same names below it.
    for depth in 0..3 {
        let tmp = tempfile::tempdir().unwrap();
        let img = tmp.path().join("rootfs/data");
        for dirs in ["a/b/c", "x/y/z"] {
            std::fs::create_dir_all(img.join(dirs)).unwrap();
        }
        std::fs::write(img.join("a/b/c/canary"), b"image\n").unwrap();
        std::fs::hard_link(img.join("a/b/c/canary"), img.join("x/y/z/canary")).unwrap();
        let data = tmp.path().join("_data");
        std::fs::create_dir(&data).unwrap();
        let base = tmp.path().join("host");
        // Below the symlink at `depth`, the rest of the first copy's directories.
        let for_a = Host::new(&base.join("for-a"), ["b/c", "c", ""][depth]);
        let for_x = Host::new(&base.join("for-x"), ["y/z", "z", ""][depth]);
        let mut swapped = None;
        let r = copy_up_watched(
            &tmp.path().join("rootfs"),
            "/data",
            &data,
            &mut |p, step| {
                if step != Step::Done || swapped.is_some() || !p.ends_with("canary") {
                    return;
                }
                let dirs: PathBuf = p.iter().take(depth + 1).collect();
                let target = base.join(if p.starts_with("a") { "for-a" } else { "for-x" });
                swap(&data, &dirs, &target);
                swapped = Some(p.to_path_buf());
            },
        );
        let what = format!("depth {depth}, first copy {swapped:?}");
        assert!(swapped.is_some(), "{what}");
        for h in [&for_a, &for_x] {
            h.assert_untouched(&what);
        }
        let err = r.expect_err(&what);
        assert!(
            err.contains("replaced while the volume was being filled"),
            "{what}: {err}"
        );
        let mut seen = Vec::new();
        inodes(&data, &mut seen);
        for h in [&for_a, &for_x] {
            assert!(!seen.contains(&h.before.ino()), "{what}: {seen:?}");
        }
    }
}

#[test]
fn a_hard_links_first_copy_swapped_for_a_symlink_or_another_file() {
    for replacement in ["symlink", "file"] {
        let tmp = tempfile::tempdir().unwrap();
        let img = tmp.path().join("rootfs/data");
        std::fs::create_dir_all(&img).unwrap();
        std::fs::write(img.join("one"), b"image\n").unwrap();
        std::fs::hard_link(img.join("one"), img.join("two")).unwrap();
        let data = tmp.path().join("_data");
        std::fs::create_dir(&data).unwrap();
        let host = Host::new(&tmp.path().join("host"), "");
        let mut swapped = false;
        let r = copy_up_watched(
            &tmp.path().join("rootfs"),
            "/data",
            &data,
            &mut |p, step| {
                if step != Step::Done || swapped {
                    return;
                }
                // Moved aside, not removed: a new node could get the removed one's inode
                // number, and be linked (it is in the volume either way).
                if replacement == "symlink" {
                    swap(&data, p, &host.canary);
                } else {
                    let at = data.join(p);
                    std::fs::rename(&at, data.join("aside")).unwrap();
                    std::fs::write(&at, b"the container's\n").unwrap();
                }
                swapped = true;
            },
        );
        host.assert_untouched(replacement);
        let err = r.expect_err(replacement);
        assert!(err.contains("replaced"), "{replacement}: {err}");
    }
}

#[test]
fn a_node_swapped_for_a_symlink_before_its_owner_mode_and_times_are_set() {
    let root = rustix::process::geteuid().is_root();
    let mut kinds = vec!["fifo", "symlink", "directory"];
    if root {
        kinds.push("char device");
    }
    for kind in kinds {
        let tmp = tempfile::tempdir().unwrap();
        let img = tmp.path().join("rootfs/data");
        std::fs::create_dir_all(&img).unwrap();
        let node = img.join("node");
        match kind {
            "fifo" => rustix::fs::mknodat(
                rustix::fs::CWD,
                &node,
                FileType::Fifo,
                Mode::from_raw_mode(0o666),
                0,
            )
            .unwrap(),
            "char device" => rustix::fs::mknodat(
                rustix::fs::CWD,
                &node,
                FileType::CharacterDevice,
                Mode::from_raw_mode(0o666),
                rustix::fs::makedev(1, 3),
            )
            .unwrap(),
            "symlink" => std::os::unix::fs::symlink("somewhere", &node).unwrap(),
            _ => std::fs::create_dir(&node).unwrap(),
        }
        if kind != "symlink" {
            std::fs::set_permissions(&node, std::fs::Permissions::from_mode(0o4777)).unwrap();
        }
        if root {
            std::os::unix::fs::lchown(&node, Some(4321), Some(4321)).unwrap();
        }
        let data = tmp.path().join("_data");
        std::fs::create_dir(&data).unwrap();
        let host = Host::new(&tmp.path().join("host"), "");
        let target = if kind == "directory" {
            host.canary.parent().unwrap().to_path_buf()
        } else {
            host.canary.clone()
        };
        let mut swapped = false;
        let r = copy_up_watched(
            &tmp.path().join("rootfs"),
            "/data",
            &data,
            &mut |p, step| {
                if step == Step::Made && !swapped {
                    let at = data.join(p);
                    if kind == "directory" {
                        std::fs::remove_dir(&at).unwrap();
                    } else {
                        std::fs::remove_file(&at).unwrap();
                    }
                    std::os::unix::fs::symlink(&target, &at).unwrap();
                    swapped = true;
                }
            },
        );
        assert!(swapped, "{kind}");
        host.assert_untouched(kind);
        let dir = std::fs::metadata(host.canary.parent().unwrap()).unwrap();
        assert_eq!(dir.uid(), rustix::process::geteuid().as_raw(), "{kind}");
        assert_ne!(dir.mode() & 0o7777, 0o4777, "{kind}");
        if kind != "symlink" {
            // A symlink swapped for another symlink cannot be told apart (and is only ever
            // touched without following it).
            assert!(r.is_err(), "{kind}: {r:?}");
        }
    }
}
