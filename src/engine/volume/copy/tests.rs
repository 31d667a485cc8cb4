//! Copy-up of ordinary trees: what is copied and how.

use super::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

#[test]
fn copies_a_tree_with_owners_modes_links_and_symlinks_unfollowed() {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    let db = rootfs.join("var/lib/db");
    std::fs::create_dir_all(db.join("sub")).unwrap();
    std::fs::write(db.join("sub/file"), b"hello").unwrap();
    std::fs::hard_link(db.join("sub/file"), db.join("again")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", db.join("abs")).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(db.join("sub/file"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let root = rustix::process::geteuid().is_root();
    if root {
        std::os::unix::fs::chown(&db, Some(999), Some(999)).unwrap();
    }
    // The path to it is a symlink that must resolve inside the root.
    std::fs::create_dir_all(rootfs.join("data")).unwrap();
    std::os::unix::fs::symlink("/var/lib/db", rootfs.join("data/link")).unwrap();
    let data = tmp.path().join("_data");
    std::fs::create_dir(&data).unwrap();
    assert!(copy_up(&rootfs, "/data/link", &data).unwrap());
    assert_eq!(std::fs::read(data.join("sub/file")).unwrap(), b"hello");
    let m = std::fs::metadata(&data).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o700);
    if root {
        assert_eq!((m.uid(), m.gid()), (999, 999));
    }
    let f = std::fs::metadata(data.join("sub/file")).unwrap();
    assert_eq!(f.mode() & 0o7777, 0o640);
    assert_eq!(
        f.ino(),
        std::fs::metadata(data.join("again")).unwrap().ino()
    );
    assert_eq!(
        std::fs::read_link(data.join("abs")).unwrap(),
        Path::new("/etc/passwd")
    );
    // Not empty any more: a second copy does nothing; a missing path has nothing to copy.
    assert!(!copy_up(&rootfs, "/data/link", &data).unwrap());
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(!copy_up(&rootfs, "/nowhere", &empty).unwrap());
}

#[test]
fn a_symlink_to_a_host_path_is_resolved_inside_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::write(rootfs.join("etc/mine"), b"image").unwrap();
    // `/evil` -> the host's /etc would copy the host's files if followed on the host.
    std::os::unix::fs::symlink("/etc", rootfs.join("evil")).unwrap();
    let data = tmp.path().join("_data");
    std::fs::create_dir(&data).unwrap();
    assert!(copy_up(&rootfs, "/evil", &data).unwrap());
    let names: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("mine")]);
}

#[test]
fn nodes_keep_owner_mode_and_times_and_every_kind_of_hard_link_is_kept() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("rootfs/data");
    std::fs::create_dir_all(img.join("deep/er/still")).unwrap();
    let fifo = img.join("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        FileType::Fifo,
        Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
    std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o1640)).unwrap();
    std::os::unix::fs::symlink("target", img.join("link")).unwrap();
    // Names that are not UTF-8, a first copy three directories down, a second name of a
    // fifo and of a symlink.
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9");
    std::fs::write(img.join("deep/er/still").join(odd), b"odd").unwrap();
    std::fs::hard_link(img.join("deep/er/still").join(odd), img.join(odd)).unwrap();
    std::fs::hard_link(&fifo, img.join("fifo2")).unwrap();
    std::fs::hard_link(img.join("link"), img.join("link2")).unwrap();
    let root = rustix::process::geteuid().is_root();
    if root {
        std::os::unix::fs::lchown(&fifo, Some(1234), Some(5678)).unwrap();
        std::os::unix::fs::lchown(img.join("link"), Some(1234), Some(5678)).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            img.join("null"),
            FileType::CharacterDevice,
            Mode::from_raw_mode(0o620),
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
        std::fs::set_permissions(img.join("null"), std::fs::Permissions::from_mode(0o620)).unwrap();
    }
    let old = Timestamps {
        last_access: Timespec {
            tv_sec: 1_000_000_000,
            tv_nsec: 5,
        },
        last_modification: Timespec {
            tv_sec: 1_100_000_000,
            tv_nsec: 7,
        },
    };
    for name in ["fifo", "link"] {
        rustix::fs::utimensat(
            rustix::fs::CWD,
            img.join(name),
            &old,
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
    }
    let data = tmp.path().join("_data");
    std::fs::create_dir(&data).unwrap();
    assert!(copy_up(&tmp.path().join("rootfs"), "/data", &data).unwrap());
    let f = std::fs::symlink_metadata(data.join("fifo")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&f.file_type()));
    assert_eq!(f.mode() & 0o7777, 0o1640);
    assert_eq!((f.mtime(), f.mtime_nsec()), (1_100_000_000, 7));
    assert_eq!(f.nlink(), 2);
    assert_eq!(
        std::fs::symlink_metadata(data.join("fifo2")).unwrap().ino(),
        f.ino()
    );
    let l = std::fs::symlink_metadata(data.join("link")).unwrap();
    assert!(l.file_type().is_symlink());
    assert_eq!((l.mtime(), l.mtime_nsec()), (1_100_000_000, 7));
    assert_eq!(
        std::fs::symlink_metadata(data.join("link2")).unwrap().ino(),
        l.ino()
    );
    assert_eq!(
        std::fs::read_link(data.join("link2")).unwrap(),
        Path::new("target")
    );
    let o = std::fs::metadata(data.join(odd)).unwrap();
    assert_eq!(
        o.ino(),
        std::fs::metadata(data.join("deep/er/still").join(odd))
            .unwrap()
            .ino()
    );
    assert_eq!(std::fs::read(data.join(odd)).unwrap(), b"odd");
    if root {
        assert_eq!((f.uid(), f.gid()), (1234, 5678));
        assert_eq!((l.uid(), l.gid()), (1234, 5678));
        let n = std::fs::symlink_metadata(data.join("null")).unwrap();
        assert_eq!(n.rdev(), rustix::fs::makedev(1, 3));
        assert_eq!(n.mode() & 0o7777, 0o620);
    }
}
