//! Byte sizes (`64m`, `1g`, `512k`, `1gb`, plain bytes). OWNER: helper H4 (stub).

pub fn parse_bytes(_s: &str) -> Result<u64, String> {
    Err("not implemented".into())
}
