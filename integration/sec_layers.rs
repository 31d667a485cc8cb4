//! Sparse tar entries in layers (security issue 14, class 5): holes are unpacked as holes, each
//! sparse file counts at its declared size against the layer's limit (`max-layer-size` in
//! `<root>/config.json`), and `images`/`image inspect` report the files' full size. GNU's old
//! sparse format (hand-built, with extension headers for many regions) and its PAX formats
//! 0.0, 0.1 and 1.0 (hand-built and made by GNU tar), through `image import` and `image load`
//! of a docker-archive and of an OCI layout.

use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::*;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// A tar archive written block by block, so sparse headers can be laid out by hand.
struct RawTar(Vec<u8>);

impl RawTar {
    fn new() -> RawTar {
        RawTar(Vec::new())
    }

    fn block(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }

    fn data(&mut self, data: &[u8]) {
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.resize(self.0.len() + pad, 0);
    }

    fn file(&mut self, name: &str, data: &[u8]) {
        let h = header(tar::EntryType::Regular, name, 0o644, data.len() as u64);
        self.block(h.as_bytes());
        self.data(data);
    }

    /// A GNU (old format) sparse entry: `realsize` bytes, data `regions` (offset, bytes), each
    /// but the last a multiple of 512 bytes; four in the header, the rest in extension headers.
    fn gnu_sparse(&mut self, name: &str, realsize: u64, regions: &[(u64, Vec<u8>)]) {
        let mut map: Vec<(u64, u64)> = regions.iter().map(|(o, d)| (*o, d.len() as u64)).collect();
        if map.last().is_none_or(|(o, l)| o + l < realsize) {
            map.push((realsize, 0)); // GNU tar's closing entry: the file's end
        }
        let data: Vec<u8> = regions.iter().flat_map(|(_, d)| d.clone()).collect();
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::GNUSparse);
        h.set_size(data.len() as u64);
        let gnu = h.as_gnu_mut().unwrap();
        for (slot, (o, l)) in gnu.sparse.iter_mut().zip(&map) {
            slot.set_offset(*o);
            slot.set_length(*l);
        }
        gnu.set_real_size(realsize);
        gnu.set_is_extended(map.len() > 4);
        h.set_cksum();
        self.block(h.as_bytes());
        let rest: Vec<_> = map.iter().skip(4).collect();
        let chunks: Vec<_> = rest.chunks(21).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let mut ext = tar::GnuExtSparseHeader::new();
            for (slot, (o, l)) in ext.sparse_mut().iter_mut().zip(chunk.iter()) {
                slot.set_offset(*o);
                slot.set_length(*l);
            }
            ext.set_is_extended(i + 1 < chunks.len());
            self.block(ext.as_bytes());
        }
        self.data(&data);
    }

    fn pax(&mut self, name: &str, records: &[(&str, String)]) {
        let mut body = Vec::new();
        for (k, v) in records {
            let rest = format!(" {k}={v}\n");
            let mut len = rest.len() + 1;
            while format!("{len}").len() + rest.len() != len {
                len += 1;
            }
            body.extend_from_slice(format!("{len}{rest}").as_bytes());
        }
        let h = header(
            tar::EntryType::XHeader,
            &format!("PaxHeaders/{name}"),
            0o644,
            body.len() as u64,
        );
        self.block(h.as_bytes());
        self.data(&body);
    }

    /// A PAX sparse entry in GNU's format `version` ("0.0", "0.1" or "1.0"), as GNU tar
    /// writes it: real name in `GNU.sparse.name` (0.1, 1.0), the map in PAX records (0.x) or
    /// ahead of the data (1.0).
    fn pax_sparse(&mut self, version: &str, name: &str, realsize: u64, regions: &[(u64, Vec<u8>)]) {
        let n = regions.len();
        let mut records = vec![];
        let mut data: Vec<u8> = Vec::new();
        match version {
            "0.0" => {
                records.push(("GNU.sparse.size", realsize.to_string()));
                records.push(("GNU.sparse.numblocks", n.to_string()));
                for (o, d) in regions {
                    records.push(("GNU.sparse.offset", o.to_string()));
                    records.push(("GNU.sparse.numbytes", d.len().to_string()));
                }
            }
            "0.1" => {
                let map: Vec<String> = regions
                    .iter()
                    .map(|(o, d)| format!("{o},{}", d.len()))
                    .collect();
                records.push(("GNU.sparse.size", realsize.to_string()));
                records.push(("GNU.sparse.numblocks", n.to_string()));
                records.push(("GNU.sparse.name", name.to_string()));
                records.push(("GNU.sparse.map", map.join(",")));
            }
            _ => {
                records.push(("GNU.sparse.major", "1".into()));
                records.push(("GNU.sparse.minor", "0".into()));
                records.push(("GNU.sparse.name", name.to_string()));
                records.push(("GNU.sparse.realsize", realsize.to_string()));
                let mut map = format!("{n}\n");
                for (o, d) in regions {
                    map.push_str(&format!("{o}\n{}\n", d.len()));
                }
                data.extend_from_slice(map.as_bytes());
                data.resize(data.len().div_ceil(512) * 512, 0);
            }
        }
        for (_, d) in regions {
            data.extend_from_slice(d);
        }
        let stored = if version == "0.0" {
            name.to_string()
        } else {
            let (dir, base) = name.rsplit_once('/').unwrap_or((".", name));
            format!("{dir}/GNUSparseFile.0/{base}")
        };
        self.pax(&stored, &records);
        let h = header(tar::EntryType::Regular, &stored, 0o644, data.len() as u64);
        self.block(h.as_bytes());
        self.data(&data);
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.resize(self.0.len() + 1024, 0);
        self.0
    }
}

/// The three ways a layer enters the store.
#[derive(Clone, Copy, Debug)]
enum Way {
    Import,
    DockerArchive,
    OciLayout,
}

const WAYS: [Way; 3] = [Way::Import, Way::DockerArchive, Way::OciLayout];

fn docker_archive(layer: &[u8], tag: &str) -> Vec<u8> {
    let diff_id = format!("sha256:{}", sha256_hex(layer));
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": "config.json", "RepoTags": [tag], "Layers": ["layer.tar"]}
    ]))
    .unwrap();
    let mut a = tar::Builder::new(Vec::new());
    add_file(&mut a, "manifest.json", &manifest, 0o644);
    add_file(&mut a, "config.json", &config, 0o644);
    add_file(&mut a, "layer.tar", layer, 0o644);
    a.into_inner().unwrap()
}

/// Brings `layer` (a plain tar) in as `sparse:<tag>` the given way.
fn enter(b: &Berth, way: Way, layer: &[u8], tag: &str) -> Output {
    let image = format!("sparse:{tag}");
    let file = b.path().join(format!("in-{tag}.tar"));
    match way {
        Way::Import => {
            std::fs::write(&file, gzip(layer)).unwrap();
            b.run(&["image", "import", file.to_str().unwrap(), &image])
        }
        Way::DockerArchive => {
            std::fs::write(&file, docker_archive(layer, &image)).unwrap();
            b.run(&["image", "load", "-q", "-i", file.to_str().unwrap()])
        }
        Way::OciLayout => {
            let layout = b.path().join(format!("layout-{tag}"));
            write_oci_layout(&layout, &[layer.to_vec()], tag);
            std::fs::write(&file, tar_dir(&layout)).unwrap();
            let out = b.run(&[
                "image",
                "load",
                "-q",
                "-i",
                file.to_str().unwrap(),
                "--name",
                "sparse",
            ]);
            let _ = std::fs::remove_dir_all(&layout);
            out
        }
    }
}

fn enter_ok(b: &Berth, way: Way, layer: &[u8], tag: &str) {
    let out = enter(b, way, layer, tag);
    assert!(
        out.status.success(),
        "{way:?}: the layer should load: {}",
        stderr(&out)
    );
}

fn inspect(b: &Berth, image: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&b.ok(&["image", "inspect", image])).unwrap();
    v[0].clone()
}

/// The unpacked directory of the image's only layer.
fn layer_dir(b: &Berth, image: &str) -> PathBuf {
    let diff_id = inspect(b, image)["RootFS"]["Layers"][0]
        .as_str()
        .unwrap()
        .to_string();
    b.path()
        .join("state/image/layers")
        .join(&diff_id[7..])
        .join("diff")
}

/// What `images --format json` and `image inspect` say the image's size is.
fn reported_sizes(b: &Berth, image: &str) -> (u64, u64) {
    let ls: serde_json::Value =
        serde_json::from_str(&b.ok(&["images", "--format", "json"])).unwrap();
    let (repo, tag) = image.split_once(':').unwrap();
    let row = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Repository"] == repo && r["Tag"] == tag)
        .unwrap_or_else(|| panic!("{image} in {ls}"));
    (
        row["Size"].as_u64().unwrap(),
        inspect(b, image)["Size"].as_u64().unwrap(),
    )
}

/// Checks that `file` is `realsize` bytes, holds each region's bytes at its offset and zeros
/// around them, and uses few disk blocks; returns the bytes its blocks take.
fn assert_sparse(file: &Path, realsize: u64, regions: &[(u64, Vec<u8>)]) -> u64 {
    let md = std::fs::metadata(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert_eq!(md.len(), realsize, "{}: its declared size", file.display());
    let f = std::fs::File::open(file).unwrap();
    for (o, d) in regions {
        let mut got = vec![0u8; d.len()];
        f.read_exact_at(&mut got, *o).unwrap();
        assert!(got == *d, "{}: data at {o}", file.display());
        let mut before = [1u8; 16];
        if *o >= 16 {
            f.read_exact_at(&mut before, o - 16).unwrap();
            assert_eq!(before, [0u8; 16], "zeros before {o}");
        }
    }
    let on_disk = md.blocks() * 512;
    let data: u64 = regions.iter().map(|(_, d)| d.len() as u64).sum();
    assert!(
        on_disk <= data + regions.len() as u64 * 8192 + 64 * 1024,
        "{}: {on_disk} bytes of disk blocks for {data} bytes of data in a {realsize}-byte \
         sparse file: the holes were written out",
        file.display()
    );
    on_disk
}

fn regions(n: u64, stride: u64, len: usize) -> Vec<(u64, Vec<u8>)> {
    (0..n)
        .map(|i| (4096 + i * stride, vec![b'a' + (i % 26) as u8; len]))
        .collect()
}

fn write_settings(b: &Berth, json: &str) {
    let state = b.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("config.json"), json).unwrap();
}

#[test]
fn gnu_sparse_gigabyte_unpacks_as_holes_and_reports_its_size() {
    if !root_or_skip("gnu_sparse_gigabyte_unpacks_as_holes_and_reports_its_size") {
        return;
    }
    let b = Berth::new();
    let map = vec![(4096, vec![b'x'; 512]), (512 * MIB, b"end".to_vec())];
    let mut t = RawTar::new();
    t.gnu_sparse("big", GIB, &map);
    let layer = t.finish();
    eprintln!(
        "layer: {} bytes of tar, {} gzipped",
        layer.len(),
        gzip(&layer).len()
    );
    enter_ok(&b, Way::Import, &layer, "gnu");
    let used = assert_sparse(&layer_dir(&b, "sparse:gnu").join("big"), GIB, &map);
    eprintln!("1 GiB GNU sparse file: {used} bytes of disk blocks");
    let (ls, inspect) = reported_sizes(&b, "sparse:gnu");
    assert!(
        ls >= GIB && inspect >= GIB,
        "sizes: images {ls}, inspect {inspect}"
    );
    // Through the image's overlay mount, as a container sees it.
    let mnt = b.path().join("mnt");
    b.mount_image("sparse:gnu", &mnt);
    assert_sparse(&mnt.join("big"), GIB, &map);
}

#[test]
fn gnu_sparse_with_extension_headers_unpacks_every_region() {
    if !root_or_skip("gnu_sparse_with_extension_headers_unpacks_every_region") {
        return;
    }
    let b = Berth::new();
    // 4 regions in the header, 196 in ten extension headers.
    let map = regions(200, 4 * MIB, 512);
    let mut t = RawTar::new();
    t.file("before", b"before\n");
    t.gnu_sparse("many", GIB, &map);
    t.file("after", b"after\n");
    let layer = t.finish();
    for way in [Way::DockerArchive, Way::OciLayout] {
        let tag = format!("{way:?}").to_lowercase();
        enter_ok(&b, way, &layer, &tag);
        let dir = layer_dir(&b, &format!("sparse:{tag}"));
        let used = assert_sparse(&dir.join("many"), GIB, &map);
        eprintln!("{way:?}: 200 regions of 512 bytes: {used} bytes of disk blocks");
        assert_eq!(std::fs::read(dir.join("after")).unwrap(), b"after\n");
        b.ok(&["rmi", &format!("sparse:{tag}")]);
    }
}

#[test]
fn pax_sparse_formats_unpack_under_their_real_name_as_holes() {
    if !root_or_skip("pax_sparse_formats_unpack_under_their_real_name_as_holes") {
        return;
    }
    let b = Berth::new();
    let map = vec![
        (0, vec![b'h'; 1000]),
        (300 * MIB, vec![b'm'; 4096]),
        (GIB - 10, b"0123456789".to_vec()),
    ];
    for (i, version) in ["0.0", "0.1", "1.0"].into_iter().enumerate() {
        let mut t = RawTar::new();
        t.pax_sparse(version, "d/big", GIB, &map);
        t.file("d/small", b"small\n");
        let layer = t.finish();
        let way = WAYS[i];
        let tag = format!("pax{}", version.replace('.', ""));
        enter_ok(&b, way, &layer, &tag);
        let dir = layer_dir(&b, &format!("sparse:{tag}"));
        let used = assert_sparse(&dir.join("d/big"), GIB, &map);
        eprintln!("PAX {version} via {way:?}: {used} bytes of disk blocks");
        let names: Vec<_> = std::fs::read_dir(dir.join("d"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            names.len() == 2 && names.contains(&"small".to_string()),
            "PAX {version}: no GNUSparseFile.* directory, the file under its name: {names:?}"
        );
        let (ls, _) = reported_sizes(&b, &format!("sparse:{tag}"));
        assert!(ls >= GIB, "PAX {version}: images reports {ls}");
    }
}

#[test]
fn sparse_files_made_by_gnu_tar_unpack_as_they_were() {
    if !root_or_skip("sparse_files_made_by_gnu_tar_unpack_as_they_were") {
        return;
    }
    let b = Berth::new();
    let src = b.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let map = vec![
        (8192, vec![b's'; 5000]),
        (700 * MIB, b"middle".to_vec()),
        (GIB - 3, b"end".to_vec()),
    ];
    let f = std::fs::File::create(src.join("sparse")).unwrap();
    f.set_len(GIB).unwrap();
    for (o, d) in &map {
        f.write_all_at(d, *o).unwrap();
    }
    drop(f);
    for (i, format) in ["gnu", "pax-0.0", "pax-0.1", "pax-1.0"].iter().enumerate() {
        let mut cmd = Command::new(tool("tar", "tar"));
        cmd.arg("-C").arg(&src).arg("-S");
        match format.split_once('-') {
            Some((f, v)) => cmd
                .arg(format!("--format={f}"))
                .arg(format!("--sparse-version={v}")),
            None => cmd.arg("--format=gnu"),
        };
        let out = cmd.args(["-cf", "-", "sparse"]).output().unwrap();
        assert!(out.status.success(), "tar: {}", stderr(&out));
        let tag = format.replace(['.', '-'], "");
        enter_ok(&b, WAYS[i % 3], &out.stdout, &tag);
        let dir = layer_dir(&b, &format!("sparse:{tag}"));
        let used = assert_sparse(&dir.join("sparse"), GIB, &map);
        eprintln!("GNU tar --format={format}: {used} bytes of disk blocks");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "{format}: only `sparse` in the layer"
        );
    }
}

/// The state root's files but the store's lock (made by the first change).
fn state_files(b: &Berth) -> Vec<String> {
    let mut files = b.state_files();
    files.retain(|f| f != "image/lock");
    files
}

/// Nothing of a refused layer stays: no layer directory, no staging, no image.
fn assert_refused(b: &Berth, out: &Output, entry: &str, before: &[String]) {
    let err = stderr(out);
    assert!(!out.status.success(), "the layer must be refused");
    for needle in [&format!("`{entry}`"), "layer sha256:", "max-layer-size"] {
        assert!(err.contains(needle), "the error names {needle}: {err}");
    }
    assert_eq!(state_files(b), before, "nothing of the layer stays");
}

#[test]
fn sparse_file_declared_far_past_the_limit_is_refused() {
    if !root_or_skip("sparse_file_declared_far_past_the_limit_is_refused") {
        return;
    }
    let b = Berth::new();
    b.ok(&["images"]);
    let before = state_files(&b);
    let data = vec![(4096, vec![b'x'; 512])];
    let mut gnu = RawTar::new();
    gnu.gnu_sparse("huge", 1 << 40, &data);
    let mut pax = RawTar::new();
    pax.pax_sparse("1.0", "huge", 1 << 40, &data);
    for (layer, way) in [(gnu.finish(), Way::Import), (pax.finish(), Way::OciLayout)] {
        let out = enter(&b, way, &layer, "huge");
        assert_refused(&b, &out, "huge", &before);
        let err = stderr(&out);
        assert!(err.contains("1099511627776"), "the declared size: {err}");
    }
}

#[test]
fn layers_past_the_configured_total_are_refused_every_way_in() {
    if !root_or_skip("layers_past_the_configured_total_are_refused_every_way_in") {
        return;
    }
    let b = Berth::new();
    write_settings(&b, r#"{"max-layer-size": "100m"}"#);
    b.ok(&["images"]);
    let before = state_files(&b);
    // Three sparse files of 40 MiB, 4 KiB of data in all: 120 MiB.
    let mut t = RawTar::new();
    for name in ["s0", "s1", "s2"] {
        t.gnu_sparse(name, 40 * MIB, &[(MIB, vec![b'y'; 1024])]);
    }
    let layer = t.finish();
    for way in WAYS {
        let out = enter(&b, way, &layer, "total");
        assert_refused(&b, &out, "s2", &before);
    }
    // Plain files count as well: two of 600 KiB against a limit of 1 MiB given in bytes.
    write_settings(&b, r#"{"max-layer-size": 1048576}"#);
    let mut t = RawTar::new();
    t.file("f0", &vec![1u8; 600 << 10]);
    t.file("f1", &vec![2u8; 600 << 10]);
    let out = enter(&b, Way::Import, &t.finish(), "plain");
    assert_refused(&b, &out, "f1", &before);
    // Raised, the sparse layer loads, its holes as holes.
    write_settings(&b, r#"{"max-layer-size": "1g"}"#);
    enter_ok(&b, Way::DockerArchive, &layer, "total");
    let dir = layer_dir(&b, "sparse:total");
    for name in ["s0", "s1", "s2"] {
        assert_sparse(&dir.join(name), 40 * MIB, &[(MIB, vec![b'y'; 1024])]);
    }
    let (ls, inspect) = reported_sizes(&b, "sparse:total");
    assert_eq!((ls, inspect), (120 * MIB, 120 * MIB));
}

#[test]
fn a_sparse_entry_in_the_archive_itself_is_refused() {
    if !root_or_skip("a_sparse_entry_in_the_archive_itself_is_refused") {
        return;
    }
    // A docker-archive whose layer.tar is itself a 1 GiB sparse entry of the outer tar.
    let b = Berth::new();
    b.ok(&["images"]);
    let before = state_files(&b);
    let mut layer = RawTar::new();
    layer.file("f", b"f\n");
    let layer = layer.finish();
    let diff_id = format!("sha256:{}", sha256_hex(&layer));
    let mut a = RawTar::new();
    a.file(
        "manifest.json",
        br#"[{"Config":"config.json","RepoTags":["sparse:outer"],"Layers":["layer.tar"]}]"#,
    );
    let config = serde_json::json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]}});
    a.file("config.json", config.to_string().as_bytes());
    a.gnu_sparse("layer.tar", GIB, &[(0, layer)]);
    let file = b.path().join("outer.tar");
    std::fs::write(&file, a.finish()).unwrap();
    let err = b.fails(&["image", "load", "-i", file.to_str().unwrap()]);
    assert!(err.contains("`layer.tar`"), "{err}");
    assert_eq!(state_files(&b), before, "nothing stays");
}

#[test]
fn a_bad_layer_limit_setting_is_named() {
    if !root_or_skip("a_bad_layer_limit_setting_is_named") {
        return;
    }
    let b = Berth::new();
    write_settings(&b, r#"{"max-layer-size": "lots"}"#);
    let mut t = RawTar::new();
    t.file("f", b"f");
    let out = enter(&b, Way::Import, &t.finish(), "bad");
    let err = stderr(&out);
    assert!(!out.status.success(), "a bad setting is an error");
    assert!(
        err.contains("config.json") && err.contains("max-layer-size") && err.contains("lots"),
        "{err}"
    );
}
