//! Flushing the connection-tracking entries of a removed container's published UDP ports:
//! UDP has no end, so an entry would keep steering a client's datagrams to the old address.
//! Uses the `conntrack` tool (Debian's conntrack package) when it is installed; without it,
//! the entries expire on their own (30 s to 180 s).

use std::process::{Command, Stdio};

/// Deletes the UDP flows whose replies come from `ip:port` (each published container port).
pub fn flush_udp(flows: &[(String, u16)]) {
    for (ip, port) in flows {
        let r = Command::new("conntrack")
            .args(["-D", "-p", "udp", "--reply-src", ip, "--reply-port-src"])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Err(e) = r {
            tracing::debug!("conntrack -D for {ip}:{port}/udp: {e}");
        }
    }
}
