//! Port short syntax: `[HOST_IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTO]`. OWNER: helper H4 (stub).

use crate::stack::model::Port;

/// Parses one short-syntax entry; a container port range yields one [`Port`] per port.
pub fn parse_short(_spec: &str) -> Result<Vec<Port>, String> {
    Err("not implemented".into())
}
