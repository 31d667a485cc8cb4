//! Hostile layers: each refused with an error naming the entry, nothing written outside.

use std::io::Write;

use super::tests::{hdr, is_root, raw_hdr, unpack, Layer};
use super::*;

fn assert_refused(data: Vec<u8>, names: &str) -> String {
    let (tmp, r) = unpack(data);
    let err = r.expect_err("the layer must be refused").to_string();
    assert!(err.contains(names), "error should name `{names}`: {err}");
    let outside: Vec<_> = std::fs::read_dir(tmp.path().join("outside"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        outside,
        vec![std::ffi::OsString::from("keep")],
        "nothing written outside"
    );
    assert_eq!(
        std::fs::read(tmp.path().join("outside/keep")).unwrap(),
        b"keep"
    );
    err
}

#[test]
fn dot_dot_and_absolute_paths() {
    if !is_root() {
        return;
    }
    assert_refused(
        Layer::new()
            .raw(
                raw_hdr(tar::EntryType::Regular, b"../outside/evil", b"", 1),
                b"x",
            )
            .bytes(),
        "../outside/evil",
    );
    assert_refused(
        Layer::new()
            .raw(
                raw_hdr(tar::EntryType::Regular, b"a/../../outside/evil", b"", 1),
                b"x",
            )
            .bytes(),
        "a/../../outside/evil",
    );
    assert_refused(
        Layer::new()
            .raw(raw_hdr(tar::EntryType::Regular, b"/etc/evil", b"", 1), b"x")
            .bytes(),
        "/etc/evil",
    );
    assert_refused(
        Layer::new()
            .raw(raw_hdr(tar::EntryType::Directory, b"/", b"", 0), b"")
            .bytes(),
        "`/`",
    );
    assert_refused(
        Layer::new()
            .raw(raw_hdr(tar::EntryType::Symlink, b".", b"/etc", 0), b"")
            .bytes(),
        "`.`",
    );
}

#[test]
fn symlink_escapes_stay_inside() {
    if !is_root() {
        return;
    }
    let outside = "../outside"; // relative escape attempt; resolved in root it stays inside
    for target in ["/", outside, "../../../../.."] {
        let data = Layer::new()
            .symlink("esc", target)
            .file("esc/keep", b"overwritten?", 0o644)
            .file("esc/new", b"new", 0o644)
            .dir("esc", 0o777)
            .bytes();
        let (tmp, r) = unpack(data);
        let _ = r; // refused or contained: either way nothing outside changes
        assert_eq!(
            std::fs::read(tmp.path().join("outside/keep")).unwrap(),
            b"keep"
        );
        assert!(!tmp.path().join("outside/new").exists());
        let outside_mode = std::fs::metadata(tmp.path().join("outside")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_ne!(
            outside_mode.permissions().mode() & 0o777,
            0o777,
            "directory entry did not chmod the symlink target"
        );
    }
}

#[test]
fn hard_links_outside_or_missing() {
    if !is_root() {
        return;
    }
    assert_refused(
        Layer::new()
            .raw(
                raw_hdr(tar::EntryType::Link, b"h", b"../outside/keep", 0),
                b"",
            )
            .bytes(),
        "../outside/keep",
    );
    assert_refused(
        Layer::new()
            .raw(raw_hdr(tar::EntryType::Link, b"h", b"/etc/passwd", 0), b"")
            .bytes(),
        "/etc/passwd",
    );
    assert_refused(
        Layer::new()
            .raw(raw_hdr(tar::EntryType::Link, b"h", b"missing", 0), b"")
            .bytes(),
        "missing",
    );
    // Through a symlink to the host: resolved inside the layer, where nothing is.
    let data = Layer::new()
        .symlink("s", "/etc")
        .raw(raw_hdr(tar::EntryType::Link, b"h", b"s/passwd", 0), b"")
        .bytes();
    assert_refused(data, "s/passwd");
}

#[test]
fn symlink_loops_error_quickly() {
    if !is_root() {
        return;
    }
    let data = Layer::new()
        .symlink("a", "b")
        .symlink("b", "a")
        .file("a/x", b"x", 0o644)
        .bytes();
    let (_tmp, r) = unpack(data);
    let err = r.expect_err("a loop cannot be written through").to_string();
    assert!(err.contains("a/x"), "{err}");
}

#[test]
fn malformed_whiteouts() {
    if !is_root() {
        return;
    }
    for name in [".wh.", "d/.wh.", ".wh..", ".wh..."] {
        let data = Layer::new()
            .raw(
                raw_hdr(tar::EntryType::Regular, name.as_bytes(), b"", 0),
                b"",
            )
            .bytes();
        let (_tmp, r) = unpack(data);
        // `.wh.` names nothing, `.wh..` the directory itself, `.wh...` its parent.
        let err = r.expect_err(name).to_string();
        assert!(err.contains(name), "{name}: {err}");
    }
}

#[test]
fn device_nodes_are_refused() {
    if !is_root() {
        return;
    }
    let mut h = hdr(tar::EntryType::Block, "dev/sda", 0o660, 0);
    h.set_device_major(8).unwrap();
    h.set_cksum();
    assert_refused(Layer::new().raw(h, b"").bytes(), "dev/sda");
    let h = hdr(tar::EntryType::Char, "dev/mem", 0o660, 0);
    assert_refused(Layer::new().raw(h, b"").bytes(), "dev/mem");
}

#[test]
fn pax_and_ustar_sizes_that_disagree() {
    if !is_root() {
        return;
    }
    // A PAX header saying 5 bytes for an entry whose ustar size says 3.
    let mut b = tar::Builder::new(Vec::new());
    let record = b"10 size=5\n";
    let mut x = tar::Header::new_ustar();
    x.set_entry_type(tar::EntryType::XHeader);
    x.set_path("PaxHeader/f").unwrap();
    x.set_size(record.len() as u64);
    x.set_cksum();
    b.append(&x, &record[..]).unwrap();
    b.append(&hdr(tar::EntryType::Regular, "f", 0o644, 3), &b"abc"[..])
        .unwrap();
    let data = b.into_inner().unwrap();
    let (_tmp, r) = unpack(data);
    let err = r.expect_err("sizes disagree").to_string();
    assert!(err.contains('f'), "{err}");
}

#[test]
fn truncated_and_corrupt_streams() {
    if !is_root() {
        return;
    }
    let plain = Layer::new().file("big", &vec![7u8; 100_000], 0o644).bytes();
    let (_t, r) = unpack(plain[..plain.len() / 2].to_vec());
    assert!(r.is_err(), "a truncated tar is refused");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let mut gz = gz.finish().unwrap();
    let n = gz.len();
    gz[n - 6] ^= 0xff; // the CRC/size trailer
    let (_t, r) = unpack(gz.clone());
    assert!(r.is_err(), "a corrupt gzip trailer is refused");
    let (_t, r) = unpack(gz[..n / 2].to_vec());
    assert!(r.is_err(), "a truncated gzip stream is refused");
}

#[test]
fn decompression_bombs_stop_early() {
    if !is_root() {
        return;
    }
    // 200 MiB of zeros compresses to ~200 KiB with gzip: over a 100-fold limit.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut h = hdr(tar::EntryType::Regular, "zeros", 0o644, 200 << 20);
    h.set_cksum();
    gz.write_all(h.as_bytes()).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..200 {
        gz.write_all(&chunk).unwrap();
    }
    gz.write_all(&[0u8; 1024]).unwrap();
    let gz = gz.finish().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let opts = UnpackOptions {
        max_ratio: 100,
        ..UnpackOptions::default()
    };
    let err = unpack_layer(std::io::Cursor::new(gz), tmp.path(), &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("fold"), "{err}");
    let written = std::fs::metadata(tmp.path().join("zeros"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(written < 100 << 20, "stopped early, wrote {written} bytes");
}

#[test]
fn too_many_entries() {
    if !is_root() {
        return;
    }
    let mut l = Layer::new();
    for i in 0..20 {
        l = l.file(&format!("f{i}"), b"", 0o644);
    }
    let tmp = tempfile::tempdir().unwrap();
    let opts = UnpackOptions {
        max_entries: 10,
        ..UnpackOptions::default()
    };
    let err = unpack_layer(std::io::Cursor::new(l.bytes()), tmp.path(), &opts).unwrap_err();
    assert!(err.to_string().contains("10"), "{err}");
}
