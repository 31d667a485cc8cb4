//! Parsers for Compose's short syntaxes and units, pure functions returning `Err(String)` that
//! the caller wraps with the key path. OWNER: helper H4.

pub mod devices;
pub mod hosts;
pub mod mount_targets;
pub mod names;
pub mod ports;
pub mod restart;
pub mod signals;
pub mod ulimits;
pub mod units;
pub mod volumes;
