//! The DNS server's one thread: a poll loop over its UDP socket, its TCP listener, its TCP
//! connections and the sockets of the forwarded queries in flight. Every wait has a deadline
//! and every table a bound (see [`Limits`]), so no client, and no upstream that never
//! answers, can make it hold more descriptors or memory, or keep others waiting.
//!
//! Only clients of the server's own network are served (their source address in its
//! subnet); anything else is dropped unread, as the firewall drops it before it arrives.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType};
use rustix::event::{PollFd, PollFlags, Timespec};

use super::forward::{servfail, Done, Forwards, To};
use super::quota::{Limits, Quotas};
use super::tcp::{Conns, Received};
use super::Sources;
use crate::engine::network::ipam::Subnet;

/// UDP queries read per turn of the loop before the other sockets get theirs.
const UDP_BATCH: usize = 64;
/// TCP connections accepted per turn.
const ACCEPT_BATCH: usize = 16;
/// The longest the loop sleeps.
const TICK: Duration = Duration::from_secs(1);
/// How often the loop forgets quiet clients.
const PRUNE: Duration = Duration::from_secs(10);

pub struct Server {
    udp: UdpSocket,
    tcp: TcpListener,
    clients: Subnet,
    sources: Sources,
    limits: Limits,
    quotas: Quotas,
    forwards: Forwards,
    conns: Conns,
    pruned: Instant,
    buf: Vec<u8>,
}

/// The IPv4 address of a client (v4-mapped v6 ones too); `None` for anything else.
fn client_v4(addr: SocketAddr) -> Option<Ipv4Addr> {
    match addr {
        SocketAddr::V4(a) => Some(*a.ip()),
        SocketAddr::V6(a) => a.ip().to_ipv4_mapped(),
    }
}

impl Server {
    /// A server on `udp` and `tcp` (bound already) for the clients in `clients`, answering
    /// from `sources` and forwarding to `upstreams`.
    pub fn new(
        udp: UdpSocket,
        tcp: TcpListener,
        clients: Subnet,
        sources: Sources,
        upstreams: Vec<SocketAddr>,
        limits: Limits,
    ) -> std::io::Result<Server> {
        udp.set_nonblocking(true)?;
        tcp.set_nonblocking(true)?;
        Ok(Server {
            udp,
            tcp,
            clients,
            sources,
            limits,
            quotas: Quotas::default(),
            forwards: Forwards::new(upstreams),
            conns: Conns::default(),
            pruned: Instant::now(),
            buf: vec![0u8; 65536],
        })
    }

    /// Serves until `stop` is set (never, for the real server).
    pub fn run(&mut self, stop: &AtomicBool) -> std::io::Result<()> {
        while !stop.load(Ordering::Relaxed) {
            self.turn()?;
        }
        Ok(())
    }

    fn ours(&self, client: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        client.filter(|ip| self.clients.contains(*ip))
    }

    /// One wait for something to do, and doing it.
    fn turn(&mut self) -> std::io::Result<()> {
        let now = Instant::now();
        for done in self.forwards.expire(&self.limits, now) {
            self.deliver(done, now);
        }
        self.conns.expire(&self.limits, now);
        let wake = [
            self.forwards.next_deadline(),
            self.conns.next_deadline(&self.limits),
        ]
        .into_iter()
        .flatten()
        .min();
        let timeout = wake
            .map(|w| w.saturating_duration_since(now))
            .unwrap_or(TICK)
            .min(TICK);
        let (udp, tcp, conns, forwards) = self.wait(timeout)?;
        let now = Instant::now();
        for key in forwards {
            if let Some(done) = self
                .forwards
                .readable(&self.limits, key, &mut self.buf, now)
            {
                self.deliver(done, now);
            }
        }
        if udp {
            self.read_udp(now);
        }
        if tcp {
            self.accept(now);
        }
        for (key, flags) in conns {
            if flags.contains(PollFlags::OUT) {
                self.conns.flush(key);
            }
            if flags.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
                self.read_tcp(key, now);
            }
        }
        if now.saturating_duration_since(self.pruned) >= PRUNE {
            self.quotas.prune(&self.limits, now);
            self.pruned = now;
        }
        Ok(())
    }

    /// Polls every socket: whether the UDP socket and the listener are readable, and the
    /// connections and forwarded queries that have something.
    #[allow(clippy::type_complexity)]
    fn wait(
        &self,
        timeout: Duration,
    ) -> std::io::Result<(bool, bool, Vec<(u64, PollFlags)>, Vec<u64>)> {
        let mut fds = vec![
            PollFd::new(&self.udp, PollFlags::IN),
            PollFd::new(&self.tcp, PollFlags::IN),
        ];
        let mut conn_keys = Vec::with_capacity(self.conns.len());
        for (key, fd, unsent) in self.conns.sockets() {
            let mut flags = PollFlags::IN;
            if unsent {
                flags |= PollFlags::OUT;
            }
            fds.push(PollFd::from_borrowed_fd(fd, flags));
            conn_keys.push(key);
        }
        let mut forward_keys = Vec::with_capacity(self.forwards.len());
        for (key, fd) in self.forwards.sockets() {
            fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
            forward_keys.push(key);
        }
        let timeout = Timespec::try_from(timeout).ok();
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready = |f: &PollFd<'_>| !f.revents().is_empty();
        let conns = conn_keys
            .into_iter()
            .zip(&fds[2..])
            .filter(|(_, f)| ready(f))
            .map(|(k, f)| (k, f.revents()))
            .collect();
        let forwards = forward_keys
            .into_iter()
            .zip(&fds[2 + self.conns.len()..])
            .filter(|(_, f)| ready(f))
            .map(|(k, _)| k)
            .collect();
        Ok((ready(&fds[0]), ready(&fds[1]), conns, forwards))
    }

    fn read_udp(&mut self, now: Instant) {
        let mut buf = std::mem::take(&mut self.buf);
        for _ in 0..UDP_BATCH {
            let (n, from) = match self.udp.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => continue,
            };
            let Some(client) = self.ours(client_v4(from)) else {
                continue;
            };
            if self.quotas.admit(&self.limits, client, now) {
                self.query(To::Udp(from), client, &buf[..n], now);
            }
        }
        self.buf = buf;
    }

    fn accept(&mut self, now: Instant) {
        for _ in 0..ACCEPT_BATCH {
            let (stream, from) = match self.tcp.accept() {
                Ok(got) => got,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => continue,
            };
            // Not ours: closed unread.
            if let Some(client) = self.ours(client_v4(from)) {
                self.conns.add(&self.limits, stream, client, now);
            }
        }
    }

    fn read_tcp(&mut self, key: u64, now: Instant) {
        let Some(client) = self.conns.client(key) else {
            return;
        };
        let Received::Queries(queries) = self.conns.read(key, &mut self.buf, now) else {
            return;
        };
        for q in queries {
            // Over its rate on TCP: the client is cut off (it cannot be ignored quietly).
            if !self.quotas.admit(&self.limits, client, now) {
                self.conns.close(key);
                return;
            }
            self.query(To::Tcp(key), client, &q, now);
        }
    }

    /// Answers `raw` from the records, or forwards it, or SERVFAILs it when the client or
    /// the table has no room for one more forwarded query. Anything that is not a query
    /// with a question is dropped.
    fn query(&mut self, to: To, client: Ipv4Addr, raw: &[u8], now: Instant) {
        let Ok(msg) = Message::from_vec(raw) else {
            return;
        };
        if msg.metadata.message_type != MessageType::Query || msg.queries.is_empty() {
            return;
        }
        if let Some(answer) = self.sources.answer(client, &msg) {
            self.reply(to, &answer, false, now);
            return;
        }
        let room = self.forwards.len() < self.limits.in_flight
            && self.quotas.may_forward(&self.limits, client);
        let fail = servfail(&msg);
        if room && self.forwards.start(&self.limits, to, client, raw, msg, now) {
            self.quotas.forwarded(client);
            if let To::Tcp(key) = to {
                self.conns.wait(key);
            }
        } else if let Some(fail) = fail {
            self.reply(to, &fail, false, now);
        }
    }

    /// A forwarded query's answer (or SERVFAIL) to its client.
    fn deliver(&mut self, done: Done, now: Instant) {
        self.quotas.answered(done.client);
        self.reply(done.to, &done.answer, true, now);
    }

    fn reply(&mut self, to: To, answer: &[u8], forwarded: bool, now: Instant) {
        match to {
            // A full socket buffer drops it, as the network would.
            To::Udp(addr) => {
                let _ = self.udp.send_to(answer, addr);
            }
            To::Tcp(key) => self.conns.answer(&self.limits, key, answer, forwarded, now),
        }
    }
}

/// The listening address and the clients' subnet from `ADDR/PREFIX` (the gateway's address
/// on its bridge, e.g. `172.18.0.1/16`: the server serves that subnet).
pub fn parse_listen(text: &str) -> Result<(Ipv4Addr, Subnet), String> {
    let bad = || {
        format!(
            "`{text}`: give the address to listen on with the prefix of the clients' subnet, \
             e.g. 172.18.0.1/16 (0.0.0.0/0 serves anyone)"
        )
    };
    let (addr, prefix) = text.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    let subnet = Subnet::containing(addr, prefix).ok_or_else(bad)?;
    Ok((addr, subnet))
}
