//! Sparse entries: holes stay holes, declared sizes count against the layer's limit, and
//! malformed or oversized maps are refused with the entry named.

use std::os::unix::fs::{FileExt, MetadataExt};

use super::tests::{hdr, is_root, unpack};
use super::*;

/// A GNU (old format) sparse entry: the map (offset, length) in the header and in
/// `extra_ext` extension blocks (the first ones holding the map's tail, any further ones
/// empty), then the regions' `data`.
fn gnu_sparse(
    name: &str,
    realsize: u64,
    map: &[(u64, u64)],
    data: &[u8],
    extra_ext: usize,
) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_path(name).unwrap();
    h.set_mode(0o644);
    h.set_mtime(1_600_000_000);
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_size(data.len() as u64);
    let gnu = h.as_gnu_mut().unwrap();
    for (slot, (o, l)) in gnu.sparse.iter_mut().zip(map) {
        slot.set_offset(*o);
        slot.set_length(*l);
    }
    gnu.set_real_size(realsize);
    let chunks: Vec<_> = map.get(4..).unwrap_or_default().chunks(21).collect();
    let blocks = chunks.len().max(extra_ext);
    gnu.set_is_extended(blocks > 0);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    for i in 0..blocks {
        let mut ext = tar::GnuExtSparseHeader::new();
        for (slot, (o, l)) in ext
            .sparse_mut()
            .iter_mut()
            .zip(chunks.get(i).into_iter().flat_map(|c| c.iter()))
        {
            slot.set_offset(*o);
            slot.set_length(*l);
        }
        ext.set_is_extended(i + 1 < blocks);
        out.extend_from_slice(ext.as_bytes());
    }
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

/// A regular entry after a PAX header holding `records`.
fn pax_entry(records: &[(&str, &str)], name: &str, kind: tar::EntryType, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let body: Vec<u8> = records
        .iter()
        .flat_map(|(k, v)| {
            let rest = format!(" {k}={v}\n");
            let mut len = rest.len() + 1;
            while len.to_string().len() + rest.len() != len {
                len += 1;
            }
            format!("{len}{rest}").into_bytes()
        })
        .collect();
    let mut x = tar::Header::new_ustar();
    x.set_entry_type(tar::EntryType::XHeader);
    x.set_path("PaxHeaders/x").unwrap();
    x.set_size(body.len() as u64);
    x.set_cksum();
    b.append(&x, &body[..]).unwrap();
    b.append(&hdr(kind, name, 0o644, data.len() as u64), data)
        .unwrap();
    b.into_inner().unwrap()
}

#[test]
fn gnu_sparse_holes_take_no_disk() {
    if !is_root() {
        return;
    }
    let map = [(0, 512), (1 << 29, 512), (1 << 30, 0)];
    let mut data = vec![b'a'; 512];
    data.extend_from_slice(&[b'b'; 512]);
    let (tmp, r) = unpack(gnu_sparse("s", 1 << 30, &map, &data, 0));
    let stats = r.unwrap();
    assert_eq!(stats.files_size, 1 << 30, "counted at its full size");
    let f = std::fs::File::open(tmp.path().join("layer/s")).unwrap();
    let md = f.metadata().unwrap();
    assert_eq!(md.len(), 1 << 30);
    assert!(md.blocks() * 512 <= 64 << 10, "{} blocks", md.blocks());
    let mut got = [0u8; 1024];
    f.read_exact_at(&mut got, (1 << 29) - 512).unwrap();
    assert_eq!(&got[..512], &[0u8; 512][..]);
    assert_eq!(&got[512..], &[b'b'; 512][..]);
}

#[test]
fn declared_sizes_count_against_the_limit() {
    if !is_root() {
        return;
    }
    let opts = UnpackOptions {
        max_layer_size: 1 << 20,
        ..UnpackOptions::default()
    };
    let gnu = gnu_sparse("big", 2 << 20, &[(0, 512), (2 << 20, 0)], &[1u8; 512], 0);
    let pax = pax_entry(
        &[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.name", "big"),
            ("GNU.sparse.realsize", "2097152"),
        ],
        "GNUSparseFile.0/big",
        tar::EntryType::Regular,
        &{
            let mut d = b"1\n0\n1\n".to_vec();
            d.resize(513, 0);
            d
        },
    );
    for data in [gnu, pax] {
        let tmp = tempfile::tempdir().unwrap();
        let err = unpack_layer(std::io::Cursor::new(data), tmp.path(), &opts).unwrap_err();
        assert!(
            matches!(&err, UnpackError::TooLarge { entry, size: 2097152, max: 1048576, .. } if entry == "big"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "nothing written"
        );
    }
}

#[test]
fn sparse_headers_have_a_budget() {
    if !is_root() {
        return;
    }
    // 17 MiB of extension blocks that go on and on.
    let blocks = (stream::MAX_HEADER_BYTES / 512 + 2048) as usize;
    let data = gnu_sparse("s", 512, &[(0, 512)], &[0u8; 512], blocks);
    let (_tmp, r) = unpack(data);
    let err = r.unwrap_err().to_string();
    assert!(
        err.contains("headers of the entry after the layer's start"),
        "{err}"
    );
}

#[test]
fn malformed_pax_sparse_entries_are_refused() {
    if !is_root() {
        return;
    }
    fn v00(map: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut r = vec![("GNU.sparse.size", "100"), ("GNU.sparse.numblocks", "2")];
        r.extend_from_slice(map);
        r
    }
    type Case = (
        Vec<(&'static str, &'static str)>,
        tar::EntryType,
        &'static [u8],
    );
    let cases: Vec<Case> = vec![
        // Overlapping regions.
        (
            v00(&[
                ("GNU.sparse.offset", "0"),
                ("GNU.sparse.numbytes", "8"),
                ("GNU.sparse.offset", "4"),
                ("GNU.sparse.numbytes", "4"),
            ]),
            tar::EntryType::Regular,
            b"abcdefghijkl",
        ),
        // A region past the declared size.
        (
            v00(&[
                ("GNU.sparse.offset", "0"),
                ("GNU.sparse.numbytes", "2"),
                ("GNU.sparse.offset", "99"),
                ("GNU.sparse.numbytes", "2"),
            ]),
            tar::EntryType::Regular,
            b"abcd",
        ),
        // More data than the map lists.
        (
            v00(&[
                ("GNU.sparse.offset", "0"),
                ("GNU.sparse.numbytes", "1"),
                ("GNU.sparse.offset", "9"),
                ("GNU.sparse.numbytes", "1"),
            ]),
            tar::EntryType::Regular,
            b"abcd",
        ),
        // Sparse records on a directory.
        (
            v00(&[
                ("GNU.sparse.offset", "0"),
                ("GNU.sparse.numbytes", "0"),
                ("GNU.sparse.offset", "9"),
                ("GNU.sparse.numbytes", "0"),
            ]),
            tar::EntryType::Directory,
            b"",
        ),
        // A version nobody wrote.
        (
            vec![
                ("GNU.sparse.major", "9"),
                ("GNU.sparse.minor", "0"),
                ("GNU.sparse.realsize", "1"),
            ],
            tar::EntryType::Regular,
            b"",
        ),
    ];
    for (records, kind, data) in cases {
        let (tmp, r) = unpack(pax_entry(&records, "victim", kind, data));
        let err = r.expect_err("refused").to_string();
        assert!(err.contains("`victim`"), "{records:?}: {err}");
        assert!(!tmp.path().join("outside/victim").exists());
    }
}

#[test]
fn zeros_in_the_stream_are_written() {
    if !is_root() {
        return;
    }
    // Only the holes the reader makes up are skipped, not data that happens to be zeros.
    let layer = super::tests::Layer::new()
        .file("z", &vec![0u8; 1 << 20], 0o644)
        .bytes();
    let (tmp, r) = unpack(layer);
    r.unwrap();
    let md = std::fs::metadata(tmp.path().join("layer/z")).unwrap();
    assert_eq!((md.len(), md.blocks() * 512 >= 1 << 20), (1 << 20, true));
}

#[test]
fn a_sparse_name_is_resolved_inside_the_layer() {
    if !is_root() {
        return;
    }
    for name in ["../outside/evil", "/etc/evil", "a/../../outside/evil"] {
        let records = [
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.name", name),
            ("GNU.sparse.realsize", "1"),
        ];
        let mut data = b"1\n0\n1\n".to_vec();
        data.resize(513, b'x');
        let (tmp, r) = unpack(pax_entry(
            &records,
            "GNUSparseFile.0/evil",
            tar::EntryType::Regular,
            &data,
        ));
        let err = r.expect_err(name).to_string();
        assert!(err.contains(name), "{name}: {err}");
        assert!(!tmp.path().join("outside/evil").exists());
    }
}
