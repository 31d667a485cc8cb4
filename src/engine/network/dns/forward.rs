//! Forwarded queries in flight: a bounded table, each entry with its own UDP socket connected
//! to the upstream being asked (a fresh random source port, and the kernel drops datagrams
//! from anyone else), a random query ID of its own, and a deadline. An answer is taken only
//! when it carries that ID and the same question; it goes back to the client with the
//! client's ID. When the deadline passes (or the upstream refuses the datagram) the next
//! upstream is asked; after the last one the client gets SERVFAIL. Nothing waits on a
//! thread: the server's poll loop watches these sockets beside its own.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Instant;

use hickory_proto::op::Message;

use super::quota::Limits;

/// Where an answer goes: a UDP client, or a TCP connection (by its key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    Udp(SocketAddr),
    Tcp(u64),
}

/// An answer ready for a client whose query was forwarded.
#[derive(Debug)]
pub struct Done {
    pub to: To,
    pub client: Ipv4Addr,
    pub answer: Vec<u8>,
}

struct Pending {
    sock: UdpSocket,
    to: To,
    client: Ipv4Addr,
    /// The client's query as it came (its ID, its question).
    query: Message,
    /// The bytes sent upstream: the client's, with our ID.
    wire: Vec<u8>,
    our_id: u16,
    attempt: usize,
    deadline: Instant,
}

/// The forwarded queries waiting for an upstream.
pub struct Forwards {
    upstreams: Vec<std::net::SocketAddr>,
    pending: HashMap<u64, Pending>,
    next_key: u64,
}

/// A random 16-bit ID (hickory-proto's, from its OS-seeded generator).
fn random_id() -> u16 {
    Message::query().metadata.id
}

/// A SERVFAIL for `query`, with its ID and question.
pub fn servfail(query: &Message) -> Option<Vec<u8>> {
    use hickory_proto::op::ResponseCode;
    let mut resp = Message::error_msg(
        query.metadata.id,
        query.metadata.op_code,
        ResponseCode::ServFail,
    );
    resp.metadata.recursion_desired = query.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    for q in &query.queries {
        resp.add_query(q.clone());
    }
    resp.to_vec().ok()
}

impl Forwards {
    pub fn new(upstreams: Vec<SocketAddr>) -> Forwards {
        Forwards {
            upstreams,
            pending: HashMap::new(),
            next_key: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Asks the first upstream for `raw` (parsed as `query`) on behalf of `client`; `false`
    /// when no upstream could be asked (answer SERVFAIL).
    pub fn start(
        &mut self,
        limits: &Limits,
        to: To,
        client: Ipv4Addr,
        raw: &[u8],
        query: Message,
        now: Instant,
    ) -> bool {
        if raw.len() < 12 {
            return false;
        }
        let our_id = random_id();
        let mut wire = raw.to_vec();
        wire[..2].copy_from_slice(&our_id.to_be_bytes());
        for attempt in 0..self.attempts(limits) {
            if let Some(sock) = self.ask(attempt, &wire) {
                self.next_key += 1;
                self.pending.insert(
                    self.next_key,
                    Pending {
                        sock,
                        to,
                        client,
                        query,
                        wire,
                        our_id,
                        attempt,
                        deadline: now + limits.attempt,
                    },
                );
                return true;
            }
        }
        false
    }

    fn attempts(&self, limits: &Limits) -> usize {
        self.upstreams.len().min(limits.attempts)
    }

    /// A socket connected to upstream number `attempt` that `wire` was sent on.
    fn ask(&self, attempt: usize, wire: &[u8]) -> Option<UdpSocket> {
        let up = *self.upstreams.get(attempt)?;
        let bind: SocketAddr = if up.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = UdpSocket::bind(bind).ok()?;
        sock.set_nonblocking(true).ok()?;
        sock.connect(up).ok()?;
        sock.send(wire).ok()?;
        Some(sock)
    }

    /// The sockets to watch, by key.
    pub fn sockets(&self) -> impl Iterator<Item = (u64, BorrowedFd<'_>)> {
        self.pending.iter().map(|(k, p)| (*k, p.sock.as_fd()))
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// Reads what arrived on `key`'s socket: the answer for the client once one matches.
    pub fn readable(
        &mut self,
        limits: &Limits,
        key: u64,
        buf: &mut [u8],
        now: Instant,
    ) -> Option<Done> {
        let p = self.pending.get(&key)?;
        loop {
            match p.sock.recv(buf) {
                Ok(n) => {
                    if let Some(answer) = matching(p, &buf[..n]) {
                        let p = self.pending.remove(&key)?;
                        return Some(Done {
                            to: p.to,
                            client: p.client,
                            answer,
                        });
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return None,
                // Refused (nothing listens there) or worse: the next upstream, now.
                Err(_) => return self.next_attempt(limits, key, now),
            }
        }
    }

    /// Moves every query past its deadline on to its next upstream; the SERVFAILs of those
    /// that ran out of upstreams.
    pub fn expire(&mut self, limits: &Limits, now: Instant) -> Vec<Done> {
        let late: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        late.into_iter()
            .filter_map(|k| self.next_attempt(limits, k, now))
            .collect()
    }

    fn next_attempt(&mut self, limits: &Limits, key: u64, now: Instant) -> Option<Done> {
        let mut p = self.pending.remove(&key)?;
        for attempt in p.attempt + 1..self.attempts(limits) {
            if let Some(sock) = self.ask(attempt, &p.wire) {
                p.sock = sock;
                p.attempt = attempt;
                p.deadline = now + limits.attempt;
                self.pending.insert(key, p);
                return None;
            }
        }
        Some(Done {
            to: p.to,
            client: p.client,
            answer: servfail(&p.query)?,
        })
    }
}

/// `reply` as the client's answer (its ID put back) when it answers `p`'s query: our ID, a
/// response, the same question.
fn matching(p: &Pending, reply: &[u8]) -> Option<Vec<u8>> {
    if reply.len() < 12 || reply[..2] != p.our_id.to_be_bytes() {
        return None;
    }
    let msg = Message::from_vec(reply).ok()?;
    if msg.metadata.message_type != hickory_proto::op::MessageType::Response
        || msg.queries != p.query.queries
    {
        return None;
    }
    let mut answer = reply.to_vec();
    answer[..2].copy_from_slice(&p.query.metadata.id.to_be_bytes());
    Some(answer)
}
