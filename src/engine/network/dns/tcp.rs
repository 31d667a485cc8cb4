//! The DNS server's TCP clients: non-blocking connections served by the poll loop, each
//! reading length-prefixed queries as they come (several in one write are all answered) and
//! writing answers as the client takes them. Bounded everywhere: a cap on open connections
//! (overall and per client; the least recently active one makes room), an idle deadline (a
//! connection that sends nothing, or half a message, is closed), and a cap on unsent answers
//! for a client that does not read.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Instant;

use super::quota::Limits;

struct Conn {
    stream: TcpStream,
    client: Ipv4Addr,
    /// Bytes read and not yet a whole query.
    unread: Vec<u8>,
    /// Framed answers the client has not taken yet.
    unsent: Vec<u8>,
    /// Forwarded queries whose answers are still to come.
    waiting: u32,
    /// The last completed query or answer.
    active: Instant,
}

/// The open connections, by key.
#[derive(Default)]
pub struct Conns {
    conns: HashMap<u64, Conn>,
    next_key: u64,
}

/// What reading a connection gave.
pub enum Received {
    /// Whole queries (without their length prefix), in order.
    Queries(Vec<Vec<u8>>),
    /// The client closed, or the connection failed: it is gone.
    Closed,
}

impl Conns {
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Takes a new connection from `client`, closing the least recently active one of the
    /// same client, or of all, when it is over its limit.
    pub fn add(&mut self, limits: &Limits, stream: TcpStream, client: Ipv4Addr, now: Instant) {
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        let _ = stream.set_nodelay(true);
        let own = self.conns.values().filter(|c| c.client == client).count();
        if own >= limits.tcp_conns_per_client {
            self.close_oldest(|c| c.client == client);
        } else if self.conns.len() >= limits.tcp_conns {
            self.close_oldest(|_| true);
        }
        self.next_key += 1;
        self.conns.insert(
            self.next_key,
            Conn {
                stream,
                client,
                unread: Vec::new(),
                unsent: Vec::new(),
                waiting: 0,
                active: now,
            },
        );
    }

    fn close_oldest(&mut self, of: impl Fn(&Conn) -> bool) {
        let oldest = self
            .conns
            .iter()
            .filter(|(_, c)| of(c))
            .min_by_key(|(k, c)| (c.active, **k))
            .map(|(k, _)| *k);
        if let Some(k) = oldest {
            self.conns.remove(&k);
        }
    }

    /// The sockets to watch, with whether each has answers to write.
    pub fn sockets(&self) -> impl Iterator<Item = (u64, BorrowedFd<'_>, bool)> {
        self.conns
            .iter()
            .map(|(k, c)| (*k, c.stream.as_fd(), !c.unsent.is_empty()))
    }

    pub fn client(&self, key: u64) -> Option<Ipv4Addr> {
        self.conns.get(&key).map(|c| c.client)
    }

    pub fn close(&mut self, key: u64) {
        self.conns.remove(&key);
    }

    /// Reads what `key`'s client sent: the queries it completed.
    pub fn read(&mut self, key: u64, buf: &mut [u8], now: Instant) -> Received {
        let Some(c) = self.conns.get_mut(&key) else {
            return Received::Closed;
        };
        match c.stream.read(buf) {
            Ok(0) => {
                self.conns.remove(&key);
                return Received::Closed;
            }
            Ok(n) => c.unread.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => {
                self.conns.remove(&key);
                return Received::Closed;
            }
        }
        let mut queries = Vec::new();
        let mut at = 0;
        while let Some(len) = c.unread.get(at..at + 2) {
            let len = u16::from_be_bytes([len[0], len[1]]) as usize;
            let Some(q) = c.unread.get(at + 2..at + 2 + len) else {
                break;
            };
            queries.push(q.to_vec());
            at += 2 + len;
        }
        c.unread.drain(..at);
        if !queries.is_empty() {
            c.active = now;
        }
        Received::Queries(queries)
    }

    /// One more forwarded query of `key`'s is in flight.
    pub fn wait(&mut self, key: u64) {
        if let Some(c) = self.conns.get_mut(&key) {
            c.waiting += 1;
        }
    }

    /// Sends `answer` to `key`'s client (framed), or keeps it until the client reads;
    /// `forwarded`: the answer to one of its forwarded queries.
    pub fn answer(
        &mut self,
        limits: &Limits,
        key: u64,
        answer: &[u8],
        forwarded: bool,
        now: Instant,
    ) {
        let Some(c) = self.conns.get_mut(&key) else {
            return;
        };
        if forwarded {
            c.waiting = c.waiting.saturating_sub(1);
        }
        let Ok(len) = u16::try_from(answer.len()) else {
            return;
        };
        c.active = now;
        c.unsent.extend_from_slice(&len.to_be_bytes());
        c.unsent.extend_from_slice(answer);
        if c.unsent.len() > limits.tcp_unsent {
            self.conns.remove(&key);
            return;
        }
        self.flush(key);
    }

    /// Writes what the client can take now.
    pub fn flush(&mut self, key: u64) {
        let Some(c) = self.conns.get_mut(&key) else {
            return;
        };
        while !c.unsent.is_empty() {
            match c.stream.write(&c.unsent) {
                Ok(0) => break,
                Ok(n) => {
                    c.unsent.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.conns.remove(&key);
                    return;
                }
            }
        }
    }

    /// Closes the connections idle past their deadline (those waiting for an upstream's
    /// answer are kept: that wait has a deadline of its own).
    pub fn expire(&mut self, limits: &Limits, now: Instant) {
        self.conns
            .retain(|_, c| c.waiting > 0 || now < c.active + limits.tcp_idle);
    }

    pub fn next_deadline(&self, limits: &Limits) -> Option<Instant> {
        self.conns
            .values()
            .filter(|c| c.waiting == 0)
            .map(|c| c.active + limits.tcp_idle)
            .min()
    }
}
