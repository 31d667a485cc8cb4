//! `extra_hosts` entries: `host:ip`, `host=ip`, IPv6 (`host:[::1]`), `host-gateway`.
//! OWNER: helper H4 (stub).

use crate::stack::model::ExtraHost;

pub fn parse_extra_host(_s: &str) -> Result<ExtraHost, String> {
    Err("not implemented".into())
}
