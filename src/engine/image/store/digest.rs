//! Digests as the store takes them: `sha256:` and 64 lower-case hex digits, nothing else.
//! Every digest, diff ID or image ID that becomes a path (a blob, a layer directory, an
//! archive entry's name) goes through [`hex`] first, so a value from an image (`sha256:../x`,
//! `sha256:/abs`, a NUL, upper-case hex, another algorithm, a short value) never reaches the
//! filesystem and never panics a slice.

use super::StoreError;
use crate::engine::image::reference::check_digest;

/// The 64 hex digits of a well-formed digest.
pub fn hex(digest: &str) -> Result<&str, StoreError> {
    check(digest)?;
    Ok(&digest["sha256:".len()..])
}

/// Refuses anything but a well-formed digest.
pub fn check(digest: &str) -> Result<(), StoreError> {
    check_digest(digest).map_err(|_| StoreError::BadDigest {
        digest: digest.to_string(),
    })
}

/// The digest of `data`.
pub fn of(data: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data))
    )
}

/// Values an image can put where a digest belongs (for tests).
#[cfg(test)]
pub(crate) fn malformed() -> Vec<String> {
    let good = "0123456789abcdef".repeat(4);
    vec![
        String::new(),
        "sha256".into(),
        "sha256:".into(),
        "sha256:abc".into(),
        format!("sha256:{}", &good[..63]),
        format!("sha256:{good}0"),
        format!("sha512:{good}{good}"),
        format!("SHA256:{good}"),
        format!("sha256:{}", good.to_uppercase()),
        format!("sha256:{}\0", &good[..63]),
        format!("sha256:{}\0{}", &good[..32], &good[..31]),
        "sha256:../../volumes/data/_data".into(),
        "../../volumes/data/_data".into(),
        "sha256:/tmp/x".into(),
        "/tmp/x".into(),
        format!("sha256:{good}/.."),
        format!("sha256:{}/{}", &good[..32], &good[..31]),
        format!("sha256:{}é", &good[..62]),
        "sha256é../../x".into(),
        format!(" sha256:{good}"),
        format!("sha256:{good}\n"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sha256_and_64_lower_case_hex_digits_pass() {
        let good = format!("sha256:{}", "0123456789abcdef".repeat(4));
        assert_eq!(hex(&good).unwrap(), &good[7..]);
        for bad in malformed() {
            let err = hex(&bad).unwrap_err().to_string();
            assert!(err.contains("64 lower-case hex digits"), "{bad:?}: {err}");
            assert!(!err.contains('\0') && !err.contains('\n'), "{err:?}");
        }
    }
}
