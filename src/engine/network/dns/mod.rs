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
//!
//! The server is one thread and one poll loop (`server`) with bounds on everything a client
//! can make it hold: forwarded queries in flight (`forward`: a bounded table, each with a
//! deadline), TCP connections (`tcp`: a cap, idle deadlines), and per-client rates and
//! shares (`quota`, whose [`Limits`] hold the numbers). It serves its own network only: a query from another source address
//! is dropped (and the firewall drops such packets before they arrive).

mod forward;
mod quota;
mod server;
mod tcp;
#[cfg(test)]
mod tests;

pub use quota::Limits;
pub use server::{parse_listen, Server};

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

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
    let msg = Message::from_vec(query).ok()?;
    answer_with(records, client, &msg, &mut |_, _| None)
}

/// [`answer`] for a parsed query, where `others(network, name)` looks a name up in another
/// network's records (for the networks the client also joined).
pub fn answer_with(
    records: &Records,
    client: Ipv4Addr,
    msg: &Message,
    others: &mut dyn FnMut(&str, &str) -> Option<Vec<Ipv4Addr>>,
) -> Option<Vec<u8>> {
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
pub struct Sources {
    own: Source,
    dir: PathBuf,
    others: BTreeMap<String, Source>,
}

impl Sources {
    pub fn new(network_dir: &Path) -> Sources {
        Sources {
            own: Source::new(records_path(network_dir)),
            dir: network_dir
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            others: BTreeMap::new(),
        }
    }

    fn answer(&mut self, client: Ipv4Addr, query: &Message) -> Option<Vec<u8>> {
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

/// The server process: binds `listen:53` (UDP and TCP; `listen` is `ADDR/PREFIX`, the
/// prefix giving the clients' subnet), reports `ready` on stdout (the starting command waits
/// for it), then answers until killed.
pub fn serve(network_dir: &Path, listen: &str, upstreams: Vec<SocketAddr>) -> std::io::Result<()> {
    let (addr, clients) = parse_listen(listen)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let udp = UdpSocket::bind((addr, 53))?;
    let tcp = TcpListener::bind((addr, 53))?;
    let mut server = Server::new(
        udp,
        tcp,
        clients,
        Sources::new(network_dir),
        upstreams,
        Limits::default(),
    )?;
    let _ = rustix::process::setsid();
    println!("ready");
    let _ = std::io::stdout().flush();
    // Nothing more goes to the starter's pipe.
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
    }
    server.run(&std::sync::atomic::AtomicBool::new(false))
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
