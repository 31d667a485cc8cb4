//! File contents, with sparse files' holes kept as holes.
//!
//! GNU tar stores a sparse file as its data regions and a map of where they go, in one of four
//! formats. The old GNU one (typeflag `S`, the map in the header and in extension blocks after
//! it) is read by the tar crate, which makes the holes up as zeros: [`write_contents`] writes
//! only what it took from the stream and skips what it made up. PAX formats 0.0 (the map as
//! repeated `GNU.sparse.offset`/`GNU.sparse.numbytes` records), 0.1 (`GNU.sparse.map`) and
//! 1.0 (the map ahead of the data) reach us as plain files holding the regions' bytes under a
//! `GNUSparseFile.<n>/` name; [`pax_sparse`] reads their map and real name as Go's
//! archive/tar (Docker's reader) does, and [`write_pax`] places each region at its offset.
//!
//! Either way the file is then cut to its declared size: a 1 GiB sparse file with 4 KiB of
//! data takes 4 KiB of disk. The declared size counts against the layer's limit
//! ([`super::UnpackOptions::max_layer_size`]).

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

use super::stream::Meter;

/// Most regions a PAX sparse map may list (16 MiB of map in memory).
const MAX_REGIONS: u64 = 1 << 20;

/// A sparse file described by GNU's PAX records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaxSparse {
    /// `GNU.sparse.name`: the file's real path (0.1 and 1.0 store it under another).
    pub name: Option<Vec<u8>>,
    /// The file's size, holes included.
    pub size: u64,
    /// (offset, length) of each data region; `None` in format 1.0, where the map opens the
    /// entry's data.
    map: Option<Vec<(u64, u64)>>,
}

/// The entry's PAX sparse description, if its PAX records have one; the reason it is
/// malformed otherwise.
pub fn pax_sparse<R: Read>(e: &mut tar::Entry<'_, R>) -> Result<Option<PaxSparse>, String> {
    let Ok(Some(pax)) = e.pax_extensions() else {
        return Ok(None);
    };
    let mut records: Vec<(String, String)> = Vec::new();
    for ext in pax.flatten() {
        let Ok(key) = ext.key() else { continue };
        if let Some(k) = key.strip_prefix("GNU.sparse.") {
            let value = ext
                .value()
                .map_err(|_| format!("GNU.sparse.{k} is not UTF-8"))?;
            records.push((k.to_string(), value.to_string()));
        }
    }
    from_records(&records)
}

fn from_records(records: &[(String, String)]) -> Result<Option<PaxSparse>, String> {
    if records.is_empty() {
        return Ok(None);
    }
    let get = |k: &str| {
        records
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let version = (get("major"), get("minor"));
    let v1 = match version {
        (Some("1"), Some("0")) => true,
        (Some("0"), Some("0" | "1")) | (None, None) => false,
        (major, minor) => {
            return Err(format!(
                "GNU sparse format {}.{} is unknown (berth reads 0.0, 0.1 and 1.0)",
                major.unwrap_or("?"),
                minor.unwrap_or("?")
            ))
        }
    };
    let size = get("size")
        .or(get("realsize"))
        .ok_or("GNU sparse records without the file's size")?;
    let size = number("the sparse file's size", size)?;
    let name = get("name").map(|n| n.as_bytes().to_vec());
    let map = if v1 {
        None
    } else {
        let numbers: Vec<u64> = if let Some(map) = get("map") {
            // 0.1: "offset,length,offset,length,..."
            map.split(',')
                .filter(|s| !s.is_empty())
                .map(|s| number("GNU.sparse.map", s))
                .collect::<Result<_, _>>()?
        } else {
            // 0.0: offset and numbytes records, in turn.
            let mut numbers = Vec::new();
            for (k, v) in records {
                if k == "offset" || k == "numbytes" {
                    if (k == "offset") != numbers.len().is_multiple_of(2) {
                        return Err("GNU.sparse.offset and numbytes records out of turn".into());
                    }
                    numbers.push(number(k, v)?);
                }
            }
            if numbers.is_empty() {
                return Err("GNU sparse records without a sparse map".into());
            }
            numbers
        };
        if !numbers.len().is_multiple_of(2) {
            return Err("the sparse map has an offset without a length".into());
        }
        if numbers.len() as u64 > 2 * MAX_REGIONS {
            return Err(format!(
                "the sparse map lists more than {MAX_REGIONS} regions"
            ));
        }
        if let Some(n) = get("numblocks") {
            if number("GNU.sparse.numblocks", n)? != numbers.len() as u64 / 2 {
                return Err("GNU.sparse.numblocks disagrees with the sparse map".into());
            }
        }
        Some(numbers.chunks(2).map(|c| (c[0], c[1])).collect())
    };
    Ok(Some(PaxSparse { name, size, map }))
}

fn number(what: &str, s: &str) -> Result<u64, String> {
    let s = s.trim();
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what}: `{s}` is not a number"));
    }
    s.parse().map_err(|_| format!("{what}: `{s}` is too large"))
}

/// Writes what the tar reader yields for a regular or GNU sparse entry into `to` (new and
/// empty), leaving a hole wherever the reader made the bytes up (it took nothing from the
/// stream for them, and they are zeros). Returns the file's size.
pub fn write_contents(from: &mut impl Read, to: &File, meter: &Meter) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 << 10];
    let zeros = vec![0u8; buf.len()];
    let mut pos = 0u64;
    loop {
        let before = meter.consumed();
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        let made_up = meter.consumed() == before && chunk == &zeros[..n];
        if !made_up {
            to.write_all_at(chunk, pos)?;
        }
        pos += n as u64;
    }
    to.set_len(pos)?;
    Ok(pos)
}

/// Writes a PAX sparse entry's regions into `to` (new and empty), each at its offset, and
/// cuts the file to its size. `data` is the entry's size in the archive. Errors are the
/// reason the map is malformed or the I/O error.
pub fn write_pax(
    from: &mut impl Read,
    data: u64,
    to: &File,
    sparse: &PaxSparse,
) -> Result<(), WriteError> {
    let (map, mut data) = match &sparse.map {
        Some(map) => (map.clone(), data),
        None => {
            let (map, used) = read_map_v1(from)?;
            (map, data.checked_sub(used).ok_or("truncated sparse map")?)
        }
    };
    let mut end = 0u64;
    for (offset, len) in &map {
        if *offset < end {
            return Err("the sparse map's regions overlap or are out of order".into());
        }
        end = offset
            .checked_add(*len)
            .filter(|e| *e <= sparse.size)
            .ok_or("a sparse region ends past the file's size")?;
        data = data
            .checked_sub(*len)
            .ok_or("the sparse map lists more data than the entry holds")?;
    }
    if data != 0 {
        return Err("the entry holds more data than its sparse map lists".into());
    }
    let mut buf = vec![0u8; 256 << 10];
    for (offset, len) in map {
        let mut region = from.take(len);
        let mut at = offset;
        loop {
            let n = match region.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            to.write_all_at(&buf[..n], at)?;
            at += n as u64;
        }
        if at != offset + len {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
    }
    to.set_len(sparse.size)?;
    Ok(())
}

/// The 1.0 map: decimal numbers, one a line (the count, then offset and length of each
/// region), in 512-byte blocks ahead of the data. Returns it and the bytes it took.
fn read_map_v1(from: &mut impl Read) -> Result<(Vec<(u64, u64)>, u64), WriteError> {
    let mut block = [0u8; 512];
    let mut used = 0u64;
    let mut digits = String::new();
    let mut count: Option<u64> = None;
    let mut numbers: Vec<u64> = Vec::new();
    while count.is_none_or(|c| (numbers.len() as u64) < 2 * c) {
        from.read_exact(&mut block).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                WriteError::Malformed("truncated sparse map".into())
            } else {
                e.into()
            }
        })?;
        used += 512;
        for b in block {
            if count.is_some_and(|c| numbers.len() as u64 == 2 * c) {
                break; // the rest of the block pads the map
            }
            if b != b'\n' {
                digits.push(char::from(b));
                if digits.len() > 20 {
                    return Err("the sparse map is malformed".into());
                }
                continue;
            }
            let n = number("the sparse map", &digits)?;
            digits.clear();
            match count {
                None if n > MAX_REGIONS => {
                    return Err(
                        format!("the sparse map lists more than {MAX_REGIONS} regions").into(),
                    )
                }
                None => count = Some(n),
                Some(_) => numbers.push(n),
            }
        }
    }
    Ok((numbers.chunks(2).map(|c| (c[0], c[1])).collect(), used))
}

/// Why a PAX sparse entry could not be written.
#[derive(Debug)]
pub enum WriteError {
    Malformed(String),
    Io(io::Error),
}

impl From<&str> for WriteError {
    fn from(s: &str) -> Self {
        WriteError::Malformed(s.to_string())
    }
}

impl From<String> for WriteError {
    fn from(s: String) -> Self {
        WriteError::Malformed(s)
    }
}

impl From<io::Error> for WriteError {
    fn from(e: io::Error) -> Self {
        WriteError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn formats_and_versions() {
        let v00 = records(&[
            ("size", "100"),
            ("numblocks", "2"),
            ("offset", "0"),
            ("numbytes", "5"),
            ("offset", "50"),
            ("numbytes", "5"),
        ]);
        let s = from_records(&v00).unwrap().unwrap();
        assert_eq!((s.size, s.map), (100, Some(vec![(0, 5), (50, 5)])));
        let v01 = records(&[("size", "9"), ("name", "a/b"), ("map", "1,2,5,3")]);
        let s = from_records(&v01).unwrap().unwrap();
        assert_eq!(s.name.as_deref(), Some(&b"a/b"[..]));
        assert_eq!(s.map, Some(vec![(1, 2), (5, 3)]));
        let v10 = records(&[("major", "1"), ("minor", "0"), ("realsize", "7")]);
        assert_eq!(from_records(&v10).unwrap().unwrap().map, None);
        assert_eq!(from_records(&[]).unwrap(), None);
        for bad in [
            records(&[("major", "2"), ("minor", "0"), ("realsize", "7")]),
            records(&[("map", "1,2")]),
            records(&[("size", "9"), ("map", "1,2,3")]),
            records(&[("size", "9"), ("map", "1,x")]),
            records(&[("size", "9"), ("numblocks", "3"), ("map", "1,2")]),
            records(&[("size", "9"), ("offset", "1"), ("offset", "2")]),
            records(&[("size", "99999999999999999999999")]),
        ] {
            assert!(from_records(&bad).is_err(), "{bad:?}");
        }
    }

    fn write(sparse: &PaxSparse, data: &[u8]) -> Result<Vec<u8>, WriteError> {
        let tmp = tempfile::tempfile().unwrap();
        write_pax(&mut &data[..], data.len() as u64, &tmp, sparse)?;
        let mut out = Vec::new();
        (&tmp).read_to_end(&mut out).unwrap();
        Ok(out)
    }

    #[test]
    fn regions_land_at_their_offsets() {
        let s = PaxSparse {
            name: None,
            size: 10,
            map: Some(vec![(1, 2), (6, 3)]),
        };
        assert_eq!(write(&s, b"abcde").unwrap(), b"\0ab\0\0\0cde\0");
        let mut v1 = b"2\n1\n2\n6\n3\n".to_vec();
        v1.resize(512, 0);
        v1.extend_from_slice(b"abcde");
        let s = PaxSparse { map: None, ..s };
        assert_eq!(write(&s, &v1).unwrap(), b"\0ab\0\0\0cde\0");
    }

    #[test]
    fn malformed_maps_are_refused() {
        let at = |map: Vec<(u64, u64)>| PaxSparse {
            name: None,
            size: 10,
            map: Some(map),
        };
        for (map, data) in [
            (vec![(5, 2), (1, 2)], &b"abcd"[..]), // out of order
            (vec![(1, 4), (3, 2)], b"abcdef"),    // overlapping
            (vec![(8, 4)], b"abcd"),              // past the end
            (vec![(u64::MAX, 2)], b"ab"),         // overflowing
            (vec![(1, 2)], b"abcd"),              // more data than mapped
            (vec![(1, 5)], b"abc"),               // less data than mapped
        ] {
            assert!(
                matches!(write(&at(map.clone()), data), Err(WriteError::Malformed(_))),
                "{map:?}"
            );
        }
        let v1 = |text: &[u8]| {
            let mut d = text.to_vec();
            d.resize(d.len().div_ceil(512).max(1) * 512, 0);
            write(
                &PaxSparse {
                    name: None,
                    size: 10,
                    map: None,
                },
                &d,
            )
        };
        assert!(matches!(v1(b"99999999\n"), Err(WriteError::Malformed(_))));
        assert!(matches!(v1(b"1\n2\n"), Err(WriteError::Malformed(_))));
        assert!(matches!(v1(b"1\nx\n1\n"), Err(WriteError::Malformed(_))));
    }
}
