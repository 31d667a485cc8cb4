//! Unpacking well-formed layers: what lands where, with which metadata.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use super::*;

pub(super) fn is_root() -> bool {
    if rustix::process::geteuid().is_root() {
        true
    } else {
        eprintln!("skipped: needs root");
        false
    }
}

pub(super) fn hdr(kind: tar::EntryType, path: &str, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_path(path).unwrap();
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    h
}

/// A tar header whose name is written raw (so `..`, `/x` and the like can be crafted).
pub(super) fn raw_hdr(kind: tar::EntryType, name: &[u8], link: &[u8], size: u64) -> tar::Header {
    let mut h = tar::Header::new_old();
    h.set_entry_type(kind);
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    h
}

pub(super) struct Layer(pub tar::Builder<Vec<u8>>);

impl Layer {
    pub fn new() -> Layer {
        Layer(tar::Builder::new(Vec::new()))
    }
    pub fn dir(mut self, p: &str, mode: u32) -> Layer {
        self.0
            .append(
                &hdr(tar::EntryType::Directory, p, mode, 0),
                std::io::empty(),
            )
            .unwrap();
        self
    }
    pub fn file(mut self, p: &str, data: &[u8], mode: u32) -> Layer {
        self.0
            .append(
                &hdr(tar::EntryType::Regular, p, mode, data.len() as u64),
                data,
            )
            .unwrap();
        self
    }
    pub fn symlink(mut self, p: &str, target: &str) -> Layer {
        let mut h = hdr(tar::EntryType::Symlink, p, 0o777, 0);
        h.set_link_name(target).unwrap();
        h.set_cksum();
        self.0.append(&h, std::io::empty()).unwrap();
        self
    }
    pub fn raw(mut self, h: tar::Header, data: &[u8]) -> Layer {
        self.0.append(&h, data).unwrap();
        self
    }
    pub fn bytes(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// Unpacks into `<tmp>/layer`, next to a canary directory `<tmp>/outside`.
pub(super) fn unpack(data: Vec<u8>) -> (tempfile::TempDir, Result<UnpackStats, UnpackError>) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("layer")).unwrap();
    std::fs::create_dir(tmp.path().join("outside")).unwrap();
    std::fs::write(tmp.path().join("outside/keep"), b"keep").unwrap();
    let r = unpack_layer(
        std::io::Cursor::new(data),
        &tmp.path().join("layer"),
        &UnpackOptions::default(),
    );
    (tmp, r)
}

fn sha(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

#[test]
fn files_dirs_links_modes_and_digest() {
    if !is_root() {
        return;
    }
    let mut owned = hdr(tar::EntryType::Regular, "home/u/data", 0o640, 4);
    owned.set_uid(1000);
    owned.set_gid(1001);
    owned.set_cksum();
    let mut hard = hdr(tar::EntryType::Link, "bin/sh2", 0o755, 0);
    hard.set_link_name("bin/sh").unwrap();
    hard.set_cksum();
    let data = Layer::new()
        .dir("./", 0o755)
        .dir("bin", 0o755)
        .file("bin/sh", b"#!shell", 0o755)
        .file("usr/bin/su", b"su", 0o4755)
        .dir("tmp", 0o1777)
        .raw(owned, b"mine")
        .raw(hard, b"")
        .symlink("bin/ash", "/bin/sh")
        .bytes();
    let (tmp, r) = unpack(data.clone());
    let stats = r.unwrap();
    assert_eq!(
        stats.diff_id,
        sha(&data),
        "the diff ID covers the whole stream"
    );
    assert_eq!(stats.uncompressed_size, data.len() as u64);
    let l = tmp.path().join("layer");
    let mode = |p: &str| {
        std::fs::symlink_metadata(l.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(
        mode("usr/bin/su"),
        0o4755,
        "setuid kept (mode applied after chown)"
    );
    assert_eq!(mode("tmp"), 0o1777);
    assert_eq!(mode("usr"), 0o755, "unlisted parents are 0755");
    let md = std::fs::metadata(l.join("home/u/data")).unwrap();
    assert_eq!((md.uid(), md.gid(), md.mode() & 0o777), (1000, 1001, 0o640));
    assert_eq!(md.mtime(), 1_600_000_000);
    assert_eq!(
        std::fs::read_link(l.join("bin/ash")).unwrap(),
        Path::new("/bin/sh")
    );
    let a = std::fs::metadata(l.join("bin/sh")).unwrap();
    let b = std::fs::metadata(l.join("bin/sh2")).unwrap();
    assert_eq!(a.ino(), b.ino(), "hard link shares the inode");
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    if !is_root() {
        return;
    }
    let data = Layer::new()
        .file("etc/.wh.passwd", b"", 0o644)
        .dir("opt/d", 0o755)
        .file("opt/d/.wh..wh..opq", b"", 0o644)
        .file("opt/d/.wh..wh.plnk", b"", 0o644)
        .bytes();
    let (tmp, r) = unpack(data);
    r.unwrap();
    let l = tmp.path().join("layer");
    let md = std::fs::symlink_metadata(l.join("etc/passwd")).unwrap();
    assert!(md.file_type().is_char_device());
    assert_eq!(md.rdev(), 0);
    let mut buf = [0u8; 8];
    let n = rustix::fs::getxattr(l.join("opt/d"), "trusted.overlay.opaque", &mut buf).unwrap();
    assert_eq!(&buf[..n], b"y");
    assert!(!l.join("opt/d/.wh..wh.plnk").exists());
}

#[test]
fn gzip_and_zstd_layers() {
    if !is_root() {
        return;
    }
    let plain = Layer::new().file("a", b"hello", 0o644).bytes();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&plain[..], 3).unwrap();
    for data in [gz, zst] {
        let len = data.len() as u64;
        let (tmp, r) = unpack(data);
        let s = r.unwrap();
        assert_eq!(s.diff_id, sha(&plain));
        assert_eq!(s.compressed_size, len);
        assert_eq!(std::fs::read(tmp.path().join("layer/a")).unwrap(), b"hello");
    }
}

#[test]
fn later_entries_replace_earlier_ones() {
    if !is_root() {
        return;
    }
    let data = Layer::new()
        .file("x", b"file", 0o644)
        .dir("x", 0o700)
        .file("x/inner", b"in", 0o644)
        .file("x", b"file again", 0o600)
        .bytes();
    let (tmp, r) = unpack(data);
    r.unwrap();
    assert_eq!(
        std::fs::read(tmp.path().join("layer/x")).unwrap(),
        b"file again"
    );
}
