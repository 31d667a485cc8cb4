//! Name resolution for containers: one small DNS server process per network (`berth __dns`),
//! listening on the network's gateway address (UDP and TCP port 53) in the namespace that
//! holds the bridge, detached from the command that started it.
//!
//! It answers from a records file (`<run>/networks/<name>/records.json`) that berth rewrites
//! atomically whenever a container joins or leaves the network; the server checks the file's
//! change time on each query and reloads it, so a recreated container's new address is
//! answered at once. Names: container names, network aliases and short IDs (several A records
//! when several containers share a name), and `--link` aliases, answered only to the linking
//! container. Every other name is forwarded to the host's resolvers (or the `dns-forward`
//! servers of the engine config). Any berth command that starts a container on the network
//! restarts a server that died (found by its pid file, checked against the process's start
//! time); `network rm` stops it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{rdata::A, RData, Record, RecordType};
use serde::{Deserialize, Serialize};

/// What the server answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Records {
    /// Lower-case name -> addresses.
    pub names: BTreeMap<String, Vec<Ipv4Addr>>,
    /// Client address -> (alias -> name in `names`): `--link` aliases of that container.
    pub links: BTreeMap<Ipv4Addr, BTreeMap<String, String>>,
    /// Client address -> the other networks that container is on: names there are answered
    /// too (with their addresses on that network), as a container sees every network it
    /// joined.
    #[serde(default)]
    pub peers: BTreeMap<Ipv4Addr, Vec<String>>,
}

impl Records {
    pub fn add(&mut self, name: &str, ip: Ipv4Addr) {
        let v = self.names.entry(name.to_ascii_lowercase()).or_default();
        if !v.contains(&ip) {
            v.push(ip);
        }
    }

    /// The addresses of `name` for a query from `client`; `None` when the name is not ours.
    pub fn lookup(&self, client: Ipv4Addr, name: &str) -> Option<&[Ipv4Addr]> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(target) = self.links.get(&client).and_then(|l| l.get(&name)) {
            return self.names.get(target).map(Vec::as_slice);
        }
        self.names.get(&name).map(Vec::as_slice)
    }
}

pub fn records_path(network_dir: &Path) -> PathBuf {
    network_dir.join("records.json")
}

/// Writes the records atomically (a reader sees the old file or the new one).
pub fn write_records(network_dir: &Path, records: &Records) -> std::io::Result<()> {
    std::fs::create_dir_all(network_dir)?;
    let tmp = network_dir.join("records.json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec(records).expect("records serialise"),
    )?;
    std::fs::rename(tmp, records_path(network_dir))
}

/// Our answer to a query from `client`, or `None` to forward it.
pub fn answer(records: &Records, client: Ipv4Addr, query: &[u8]) -> Option<Vec<u8>> {
    answer_with(records, client, query, &mut |_, _| None)
}

/// [`answer`], where `others(network, name)` looks a name up in another network's records
/// (for the networks the client also joined).
pub fn answer_with(
    records: &Records,
    client: Ipv4Addr,
    query: &[u8],
    others: &mut dyn FnMut(&str, &str) -> Option<Vec<Ipv4Addr>>,
) -> Option<Vec<u8>> {
    let msg = Message::from_vec(query).ok()?;
    let q = msg.queries.first()?;
    let name = q.name().to_ascii();
    let ips: Vec<Ipv4Addr> = match records.lookup(client, &name) {
        Some(ips) => ips.to_vec(),
        None => records
            .peers
            .get(&client)
            .into_iter()
            .flatten()
            .find_map(|net| others(net, &name))?,
    };
    let mut resp = Message::response(msg.metadata.id, msg.metadata.op_code);
    resp.metadata.message_type = MessageType::Response;
    resp.metadata.authoritative = true;
    resp.metadata.recursion_desired = msg.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.metadata.response_code = ResponseCode::NoError;
    resp.add_query(q.clone());
    // A known name has A records only: other types get an empty answer, never a forward.
    if q.query_type() == RecordType::A {
        for ip in ips {
            resp.add_answer(Record::from_rdata(q.name().clone(), 0, RData::A(A(ip))));
        }
    }
    resp.to_vec().ok()
}

/// A SERVFAIL for a query nobody could answer.
fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    let msg = Message::from_vec(query).ok()?;
    let mut resp = Message::error_msg(
        msg.metadata.id,
        msg.metadata.op_code,
        ResponseCode::ServFail,
    );
    resp.metadata.recursion_available = true;
    for q in msg.queries {
        resp.add_query(q);
    }
    resp.to_vec().ok()
}

/// Asks the upstream servers in turn (UDP, 2 s each).
fn forward(upstreams: &[SocketAddr], query: &[u8]) -> Option<Vec<u8>> {
    for up in upstreams {
        let bind: SocketAddr = if up.is_ipv4() {
            "0.0.0.0:0".parse().expect("an address")
        } else {
            "[::]:0".parse().expect("an address")
        };
        let Ok(s) = UdpSocket::bind(bind) else {
            continue;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.send_to(query, up).is_err() {
            continue;
        }
        let mut buf = vec![0u8; 65535];
        if let Ok((n, from)) = s.recv_from(&mut buf) {
            if from == *up {
                buf.truncate(n);
                return Some(buf);
            }
        }
    }
    servfail(query)
}

/// A records file, reloaded when it changed.
struct Source {
    path: PathBuf,
    seen: Option<SystemTime>,
    records: Records,
}

impl Source {
    fn new(path: PathBuf) -> Source {
        Source {
            path,
            seen: None,
            records: Records::default(),
        }
    }

    fn get(&mut self) -> &Records {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        if modified != self.seen {
            self.seen = modified;
            self.records = std::fs::read(&self.path)
                .ok()
                .and_then(|d| serde_json::from_slice(&d).ok())
                .unwrap_or_default();
        }
        &self.records
    }
}

/// This network's records and, on demand, those of the other networks beside it.
struct Sources {
    own: Source,
    dir: PathBuf,
    others: BTreeMap<String, Source>,
}

impl Sources {
    fn new(network_dir: &Path) -> Sources {
        Sources {
            own: Source::new(records_path(network_dir)),
            dir: network_dir
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            others: BTreeMap::new(),
        }
    }

    fn answer(&mut self, client: Ipv4Addr, query: &[u8]) -> Option<Vec<u8>> {
        let Sources { own, dir, others } = self;
        answer_with(own.get(), client, query, &mut |net, name| {
            if net.contains('/') || net.starts_with('.') {
                return None;
            }
            let src = others
                .entry(net.to_string())
                .or_insert_with(|| Source::new(records_path(&dir.join(net))));
            src.get()
                .names
                .get(&name.trim_end_matches('.').to_ascii_lowercase())
                .cloned()
        })
    }
}

fn client_v4(addr: SocketAddr) -> Ipv4Addr {
    match addr {
        SocketAddr::V4(a) => *a.ip(),
        SocketAddr::V6(a) => a.ip().to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
    }
}

/// The server's main loop: binds `listen:53` (UDP and TCP), reports `ready` on stdout (the
/// starting command waits for it), then answers until killed.
pub fn serve(
    network_dir: &Path,
    listen: Ipv4Addr,
    upstreams: Vec<SocketAddr>,
) -> std::io::Result<()> {
    let udp = UdpSocket::bind((listen, 53))?;
    let tcp = TcpListener::bind((listen, 53))?;
    let _ = rustix::process::setsid();
    println!("ready");
    let _ = std::io::stdout().flush();
    // Nothing more goes to the starter's pipe.
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
    }
    let ups = upstreams.clone();
    let tcp_dir = network_dir.to_path_buf();
    std::thread::spawn(move || {
        let mut sources = Sources::new(&tcp_dir);
        for conn in tcp.incoming().flatten() {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let client = conn
                .peer_addr()
                .map(client_v4)
                .unwrap_or(Ipv4Addr::UNSPECIFIED);
            let mut conn = conn;
            let mut len = [0u8; 2];
            if conn.read_exact(&mut len).is_err() {
                continue;
            }
            let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
            if conn.read_exact(&mut q).is_err() {
                continue;
            }
            let reply = sources.answer(client, &q).or_else(|| forward(&ups, &q));
            if let Some(r) = reply {
                let _ = conn.write_all(&(r.len() as u16).to_be_bytes());
                let _ = conn.write_all(&r);
            }
        }
    });
    let mut sources = Sources::new(network_dir);
    let mut buf = vec![0u8; 65535];
    loop {
        let Ok((n, from)) = udp.recv_from(&mut buf) else {
            continue;
        };
        let q = buf[..n].to_vec();
        if let Some(r) = sources.answer(client_v4(from), &q) {
            let _ = udp.send_to(&r, from);
            continue;
        }
        // Forwarding waits on the network: off the answering loop.
        let (sock, ups) = (udp.try_clone()?, upstreams.clone());
        std::thread::spawn(move || {
            if let Some(r) = forward(&ups, &q) {
                let _ = sock.send_to(&r, from);
            }
        });
    }
}

/// The upstream servers: `configured` (`ADDR` or `ADDR:PORT`) or the host's resolv.conf.
pub fn upstreams(configured: &[String]) -> Vec<SocketAddr> {
    let parse = |s: &str| -> Option<SocketAddr> {
        s.parse::<SocketAddr>().ok().or_else(|| {
            s.parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, 53))
        })
    };
    if !configured.is_empty() {
        return configured.iter().filter_map(|s| parse(s)).collect();
    }
    std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|s| parse(s.trim()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{OpCode, Query};
    use hickory_proto::rr::Name;

    fn query(name: &str, t: RecordType) -> Vec<u8> {
        let mut m = Message::new(7, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        m.to_vec().unwrap()
    }

    fn ips(resp: &[u8]) -> Vec<Ipv4Addr> {
        Message::from_vec(resp)
            .unwrap()
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn names_aliases_and_links() {
        let mut r = Records::default();
        let web1: Ipv4Addr = "172.18.0.2".parse().unwrap();
        let web2: Ipv4Addr = "172.18.0.3".parse().unwrap();
        let client: Ipv4Addr = "172.18.0.9".parse().unwrap();
        r.add("Web1", web1);
        r.add("web", web1);
        r.add("web", web2);
        r.links
            .entry(client)
            .or_default()
            .insert("db-alias".into(), "web1".into());
        let a = answer(&r, client, &query("web1.", RecordType::A)).unwrap();
        assert_eq!(ips(&a), vec![web1]);
        let a = answer(&r, client, &query("WEB", RecordType::A)).unwrap();
        assert_eq!(
            ips(&a),
            vec![web1, web2],
            "a shared alias has every address"
        );
        // A link alias is the linking container's only.
        let a = answer(&r, client, &query("db-alias", RecordType::A)).unwrap();
        assert_eq!(ips(&a), vec![web1]);
        assert!(answer(&r, web2, &query("db-alias", RecordType::A)).is_none());
        // AAAA of a known name: an empty answer, not a forward.
        let a = answer(&r, client, &query("web", RecordType::AAAA)).unwrap();
        let m = Message::from_vec(&a).unwrap();
        assert!(m.answers.is_empty() && m.metadata.response_code == ResponseCode::NoError);
        // Unknown names are forwarded.
        assert!(answer(&r, client, &query("example.org.", RecordType::A)).is_none());
        // Nobody to forward to: SERVFAIL with the same ID.
        let f = forward(&[], &query("example.org.", RecordType::A)).unwrap();
        let m = Message::from_vec(&f).unwrap();
        assert_eq!(
            (m.metadata.id, m.metadata.response_code),
            (7, ResponseCode::ServFail)
        );
    }

    #[test]
    fn upstreams_from_config_or_resolv_conf() {
        let u = upstreams(&["127.0.0.1:5353".into(), "10.0.0.1".into(), "bad".into()]);
        assert_eq!(
            u,
            vec![
                "127.0.0.1:5353".parse::<SocketAddr>().unwrap(),
                "10.0.0.1:53".parse().unwrap()
            ]
        );
    }
}
