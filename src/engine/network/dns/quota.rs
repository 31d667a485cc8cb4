//! What one client may take of the DNS server: a query rate (a token bucket, so short bursts
//! pass) and a share of the forwarded queries in flight. A client over its rate is dropped
//! before its query is even parsed, so a flood costs the server one read per packet and the
//! other clients keep their answers; a client with its share in flight gets SERVFAIL at once
//! for its next unknown name instead of a table slot.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// The server's bounds (see [`Limits::default`] for the values it runs with).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Queries a client may send per second, sustained.
    pub rate: f64,
    /// Queries a client may send at once after a quiet spell.
    pub burst: f64,
    /// Forwarded queries waiting for an upstream, all clients together.
    pub in_flight: usize,
    /// Forwarded queries waiting for an upstream, per client.
    pub in_flight_per_client: u32,
    /// How long one upstream has to answer before the next one is asked.
    pub attempt: Duration,
    /// Upstreams asked for one query, at most.
    pub attempts: usize,
    /// Open TCP connections, all clients together; the least recently active one is closed
    /// to make room for a new one.
    pub tcp_conns: usize,
    /// Open TCP connections per client; its own least recently active one makes room.
    pub tcp_conns_per_client: usize,
    /// A TCP connection that completes no query for this long (and waits for no answer) is
    /// closed: a client that sends nothing or half a message holds a slot this long at most.
    pub tcp_idle: Duration,
    /// Unsent answers a TCP client may leave unread before it is disconnected.
    pub tcp_unsent: usize,
    /// Clients tracked at once (their buckets); more are dropped until some go quiet.
    pub clients: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rate: 2000.0,
            burst: 4000.0,
            in_flight: 256,
            in_flight_per_client: 32,
            attempt: Duration::from_secs(2),
            attempts: 3,
            tcp_conns: 64,
            tcp_conns_per_client: 8,
            tcp_idle: Duration::from_secs(10),
            tcp_unsent: 128 * 1024,
            clients: 4096,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
    in_flight: u32,
}

/// Every client's bucket and forwarded queries in flight.
#[derive(Debug, Default)]
pub struct Quotas {
    clients: HashMap<Ipv4Addr, Bucket>,
}

impl Quotas {
    /// Takes one query from `client`'s rate; `false` when it has none left (drop the query).
    pub fn admit(&mut self, limits: &Limits, client: Ipv4Addr, now: Instant) -> bool {
        if !self.clients.contains_key(&client) && self.clients.len() >= limits.clients {
            self.prune(limits, now);
            if self.clients.len() >= limits.clients {
                return false;
            }
        }
        let b = self.clients.entry(client).or_insert(Bucket {
            tokens: limits.burst,
            at: now,
            in_flight: 0,
        });
        let earned = now.saturating_duration_since(b.at).as_secs_f64() * limits.rate;
        b.tokens = (b.tokens + earned).min(limits.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether `client` may have one more query forwarded.
    pub fn may_forward(&self, limits: &Limits, client: Ipv4Addr) -> bool {
        self.clients
            .get(&client)
            .is_none_or(|b| b.in_flight < limits.in_flight_per_client)
    }

    pub fn forwarded(&mut self, client: Ipv4Addr) {
        if let Some(b) = self.clients.get_mut(&client) {
            b.in_flight += 1;
        }
    }

    pub fn answered(&mut self, client: Ipv4Addr) {
        if let Some(b) = self.clients.get_mut(&client) {
            b.in_flight = b.in_flight.saturating_sub(1);
        }
    }

    /// Forgets clients with nothing in flight whose bucket has refilled.
    pub fn prune(&mut self, limits: &Limits, now: Instant) {
        self.clients.retain(|_, b| {
            let earned = now.saturating_duration_since(b.at).as_secs_f64() * limits.rate;
            b.in_flight > 0 || b.tokens + earned < limits.burst
        });
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.clients.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_passes_a_burst_then_the_rate_and_shares_are_per_client() {
        let limits = Limits {
            rate: 10.0,
            burst: 5.0,
            in_flight_per_client: 2,
            clients: 2,
            ..Limits::default()
        };
        let mut q = Quotas::default();
        let (a, b, c) = (
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            Ipv4Addr::new(10, 0, 0, 3),
        );
        let t0 = Instant::now();
        let passed = (0..20).filter(|_| q.admit(&limits, a, t0)).count();
        assert_eq!(passed, 5, "the burst");
        let passed = (0..20).filter(|_| q.admit(&limits, b, t0)).count();
        assert_eq!(passed, 5, "another client has its own bucket");
        // 10 per second: 100 ms later one more.
        let t1 = t0 + Duration::from_millis(100);
        assert!(q.admit(&limits, a, t1));
        assert!(!q.admit(&limits, a, t1));
        // The table is full (a and b): a third client waits until one goes quiet.
        assert!(!q.admit(&limits, c, t1));
        let later = t1 + Duration::from_secs(2);
        assert!(q.admit(&limits, c, later));
        assert_eq!(q.len(), 1, "the quiet ones were forgotten");
        // Forwarded queries in flight, per client.
        q.forwarded(c);
        q.forwarded(c);
        assert!(!q.may_forward(&limits, c));
        assert!(q.may_forward(&limits, a));
        q.answered(c);
        assert!(q.may_forward(&limits, c));
        q.prune(&limits, later + Duration::from_secs(60));
        assert_eq!(q.len(), 1, "a client with a query in flight is kept");
    }
}
