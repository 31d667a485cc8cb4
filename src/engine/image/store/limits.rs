//! Limits on the layers the store takes in, from the state root's settings file
//! (`<root>/config.json`, which also holds the network keys): `max-layer-size`, the most bytes
//! one layer may unpack to (its tar stream, and its files with each sparse file at its full
//! size), a number of bytes or a size such as `"128g"`; 64 GiB when not set.

use std::path::{Path, PathBuf};

use super::StoreError;
use crate::engine::image::unpack::UnpackOptions;

/// The settings key.
pub const KEY: &str = "max-layer-size";

/// The limits, and the settings file they come from (named in errors).
#[derive(Debug, Clone)]
pub struct LayerLimits {
    pub unpack: UnpackOptions,
    pub settings: PathBuf,
}

impl LayerLimits {
    /// The limits set in `settings` (a missing file or key: the defaults).
    pub fn load(settings: &Path) -> Result<LayerLimits, StoreError> {
        let mut unpack = UnpackOptions::default();
        let bad = |message: String| StoreError::Config {
            path: settings.to_path_buf(),
            message,
        };
        let value: serde_json::Value = match std::fs::read(settings) {
            Ok(data) => serde_json::from_slice(&data).map_err(|e| bad(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Value::Null,
            Err(e) => return Err(StoreError::io(settings, e)),
        };
        if let Some(v) = value.get(KEY) {
            let max = match v {
                serde_json::Value::Number(n) => n.as_u64(),
                serde_json::Value::String(s) => parse_size(s),
                _ => None,
            }
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                bad(format!(
                    "{KEY}: `{v}` is not a size (give bytes, or a number with k, m, g or t, \
                     e.g. \"128g\")"
                ))
            })?;
            unpack.max_layer_size = max;
            unpack.max_uncompressed = max;
        }
        Ok(LayerLimits {
            unpack,
            settings: settings.to_path_buf(),
        })
    }
}

impl LayerLimits {
    /// The limits on an archive's stream (a docker-archive or OCI layout read by `image load`,
    /// a stored layer decompressed by `image save`): those of a layer, but never below the
    /// defaults, since an archive holds several layers.
    pub fn archive(&self) -> UnpackOptions {
        let default = UnpackOptions::default();
        UnpackOptions {
            max_uncompressed: self.unpack.max_uncompressed.max(default.max_uncompressed),
            ..default
        }
    }
}

/// `1048576`, `512k`, `100m`, `128g`, `1t` (powers of 1024; a trailing `b` allowed).
fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (digits, shift) = match t.as_bytes().last()? {
        b'k' => (&t[..t.len() - 1], 10),
        b'm' => (&t[..t.len() - 1], 20),
        b'g' => (&t[..t.len() - 1], 30),
        b't' => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("100m"), Some(100 << 20));
        assert_eq!(parse_size(" 128G "), Some(128 << 30));
        assert_eq!(parse_size("2tb"), Some(2 << 40));
        for bad in ["", "g", "lots", "1.5g", "-1", "99999999999t"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn settings_file() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("config.json");
        let l = LayerLimits::load(&p).unwrap();
        assert_eq!(l.unpack.max_layer_size, 64 << 30, "no file: the default");
        std::fs::write(&p, r#"{"bip": "10.0.0.1/16", "max-layer-size": "2g"}"#).unwrap();
        let l = LayerLimits::load(&p).unwrap();
        assert_eq!(
            (l.unpack.max_layer_size, l.unpack.max_uncompressed),
            (2 << 30, 2 << 30)
        );
        assert_eq!(
            l.archive().max_uncompressed,
            64 << 30,
            "an archive: never below 64 GiB"
        );
        std::fs::write(&p, r#"{"max-layer-size": 4096}"#).unwrap();
        assert_eq!(LayerLimits::load(&p).unwrap().unpack.max_layer_size, 4096);
        std::fs::write(&p, r#"{"max-layer-size": "100g"}"#).unwrap();
        let l = LayerLimits::load(&p).unwrap();
        assert_eq!(l.archive().max_uncompressed, 100 << 30);
        for bad in [
            r#"{"max-layer-size": "lots"}"#,
            r#"{"max-layer-size": 0}"#,
            "{nope",
        ] {
            std::fs::write(&p, bad).unwrap();
            let err = LayerLimits::load(&p).unwrap_err().to_string();
            assert!(err.contains("config.json"), "{bad}: {err}");
        }
    }
}
