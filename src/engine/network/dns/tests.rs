//! The records, answers and the server loop against loopback sockets.

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

mod server {
    use super::super::*;
    use super::{ips, query};
    use hickory_proto::op::{Message, ResponseCode};
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream, UdpSocket};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// A server on loopback ports serving `clients`, with `web` = 10.0.0.2; stopped when
    /// dropped.
    struct Running {
        udp: SocketAddr,
        tcp: SocketAddr,
        stop: Arc<AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
        _dir: tempfile::TempDir,
    }

    impl Drop for Running {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(t) = self.thread.take() {
                t.join().unwrap();
            }
        }
    }

    fn start(clients: &str, upstreams: Vec<SocketAddr>, limits: Limits) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Records::default();
        r.add("web", "10.0.0.2".parse().unwrap());
        write_records(dir.path(), &r).unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (u, t) = (udp.local_addr().unwrap(), tcp.local_addr().unwrap());
        let (_, subnet) = parse_listen(clients).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let path = dir.path().to_path_buf();
        let thread = std::thread::spawn(move || {
            let mut s =
                Server::new(udp, tcp, subnet, Sources::new(&path), upstreams, limits).unwrap();
            s.run(&flag).unwrap();
        });
        Running {
            udp: u,
            tcp: t,
            stop,
            thread: Some(thread),
            _dir: dir,
        }
    }

    fn ask(from: &UdpSocket, server: SocketAddr, id: u16, name: &str) {
        let mut q = query(name, RecordType::A);
        q[..2].copy_from_slice(&id.to_be_bytes());
        from.send_to(&q, server).unwrap();
    }

    /// Answers arriving on `sock` within `wait`.
    fn answers(sock: &UdpSocket, wait: Duration) -> Vec<Message> {
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            match sock.recv(&mut buf) {
                Ok(n) => got.push(Message::from_vec(&buf[..n]).unwrap()),
                Err(_) => break,
            }
        }
        got
    }

    fn client(addr: &str) -> UdpSocket {
        UdpSocket::bind(addr).unwrap()
    }

    #[test]
    fn only_the_servers_own_subnet_is_answered() {
        let ours = start("127.0.0.1/8", vec![], Limits::default());
        let theirs = start("10.0.0.1/16", vec![], Limits::default());
        let c = client("127.0.0.1:0");
        ask(&c, ours.udp, 1, "web");
        let got = answers(&c, Duration::from_secs(2));
        assert_eq!(got.len(), 1);
        assert_eq!(
            ips(&got[0].to_vec().unwrap()),
            vec![Ipv4Addr::new(10, 0, 0, 2)]
        );
        ask(&c, theirs.udp, 2, "web");
        assert!(answers(&c, Duration::from_millis(500)).is_empty());
        // Over TCP: closed unread.
        let mut s = TcpStream::connect(theirs.tcp).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let q = query("web", RecordType::A);
        let _ = s.write_all(&(q.len() as u16).to_be_bytes());
        let _ = s.write_all(&q);
        let mut buf = [0u8; 16];
        assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
    }

    #[test]
    fn forwarded_queries_are_bounded_per_client_and_time_out_with_servfail() {
        // An upstream that never answers, then one that refuses (nothing listens).
        let hole = UdpSocket::bind("127.0.0.1:0").unwrap();
        let closed = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let limits = Limits {
            in_flight_per_client: 4,
            in_flight: 6,
            attempt: Duration::from_millis(400),
            ..Limits::default()
        };
        let s = start(
            "127.0.0.1/8",
            vec![hole.local_addr().unwrap(), closed],
            limits,
        );
        let a = client("127.0.0.1:0");
        let start = Instant::now();
        for id in 0..10 {
            ask(&a, s.udp, id, &format!("nx{id}.example"));
        }
        // Six at once (over the client's share), four when the upstreams gave up.
        let now = answers(&a, Duration::from_millis(200));
        assert_eq!(now.len(), 6, "{now:?}");
        // Another client has a share of its own (the table has room for 2 more).
        let b = client("127.0.0.2:0");
        ask(&b, s.udp, 77, "other.example");
        ask(&b, s.udp, 78, "other2.example");
        ask(&b, s.udp, 79, "other3.example");
        let late = answers(&a, Duration::from_secs(3));
        assert_eq!(late.len(), 4, "{late:?}");
        assert!(start.elapsed() >= Duration::from_millis(400));
        let mut ids: Vec<u16> = now.iter().chain(&late).map(|m| m.metadata.id).collect();
        ids.sort();
        assert_eq!(ids, (0..10).collect::<Vec<u16>>());
        assert!(now
            .iter()
            .chain(&late)
            .all(|m| m.metadata.response_code == ResponseCode::ServFail));
        // b: the table was full for its third.
        let got = answers(&b, Duration::from_secs(3));
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].metadata.id, 79, "the table's bound answered first");
        // The black hole was asked once per forwarded query, with IDs of the server's own.
        hole.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        let mut seen = 0;
        while let Ok(n) = hole.recv(&mut buf) {
            let m = Message::from_vec(&buf[..n]).unwrap();
            assert!(m.queries[0].name().to_ascii().contains("example"));
            seen += 1;
        }
        assert_eq!(seen, 6);
    }

    /// An upstream on loopback answering each query with `replies(query)`.
    fn upstream(replies: fn(&Message) -> Vec<Message>) -> SocketAddr {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let addr = sock.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok((n, from)) = sock.recv_from(&mut buf) {
                let q = Message::from_vec(&buf[..n]).unwrap();
                for r in replies(&q) {
                    let _ = sock.send_to(&r.to_vec().unwrap(), from);
                }
            }
        });
        addr
    }

    fn reply(q: &Message, id: u16, name: &str, ip: [u8; 4]) -> Message {
        let mut r = Message::response(id, q.metadata.op_code);
        let name = hickory_proto::rr::Name::from_ascii(name).unwrap();
        r.add_query(hickory_proto::op::Query::query(name.clone(), RecordType::A));
        r.add_answer(Record::from_rdata(name, 60, RData::A(A(ip.into()))));
        r
    }

    #[test]
    fn only_an_answer_with_the_servers_id_and_the_same_question_is_passed_on() {
        let up = upstream(|q| {
            let name = q.queries[0].name().to_ascii();
            vec![
                reply(q, q.metadata.id.wrapping_add(1), &name, [6, 6, 6, 6]),
                reply(q, q.metadata.id, "evil.example.", [6, 6, 6, 7]),
                reply(q, q.metadata.id, &name, [10, 1, 2, 3]),
            ]
        });
        let s = start("127.0.0.1/8", vec![up], Limits::default());
        let c = client("127.0.0.1:0");
        ask(&c, s.udp, 4242, "good.example");
        let got = answers(&c, Duration::from_secs(1));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].metadata.id, 4242);
        assert_eq!(
            ips(&got[0].to_vec().unwrap()),
            vec![Ipv4Addr::new(10, 1, 2, 3)]
        );
    }

    fn tcp_query(s: &mut TcpStream, id: u16, name: &str) {
        let mut q = query(name, RecordType::A);
        q[..2].copy_from_slice(&id.to_be_bytes());
        s.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
        s.write_all(&q).unwrap();
    }

    fn tcp_answer(s: &mut TcpStream) -> Option<Message> {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).ok()?;
        let mut m = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut m).ok()?;
        Message::from_vec(&m).ok()
    }

    #[test]
    fn tcp_connections_are_served_together_closed_when_idle_and_capped_per_client() {
        let limits = Limits {
            tcp_idle: Duration::from_millis(500),
            tcp_conns_per_client: 3,
            ..Limits::default()
        };
        let s = start("127.0.0.1/8", vec![], limits);
        // A connection with half a message does not hold up another.
        let mut half = TcpStream::connect(s.tcp).unwrap();
        half.write_all(&[0, 40, 1, 2]).unwrap();
        let mut other = TcpStream::connect(s.tcp).unwrap();
        other
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        tcp_query(&mut other, 1, "web");
        tcp_query(&mut other, 2, "nothing.example");
        assert_eq!(tcp_answer(&mut other).unwrap().metadata.id, 1);
        let second = tcp_answer(&mut other).unwrap();
        assert_eq!(
            (second.metadata.id, second.metadata.response_code),
            (2, ResponseCode::ServFail),
            "no upstream"
        );
        // The half-sent one is closed after the idle time.
        let start = Instant::now();
        half.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 4];
        assert!(matches!(half.read(&mut buf), Ok(0) | Err(_)));
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(4),
            "{took:?}"
        );
        // A client's fourth connection closes its least recently active one.
        drop((half, other));
        let conns: Vec<TcpStream> = (0..4)
            .map(|_| {
                let c = TcpStream::connect(s.tcp).unwrap();
                std::thread::sleep(Duration::from_millis(20));
                c
            })
            .collect();
        let mut first = conns[0].try_clone().unwrap();
        first
            .set_read_timeout(Some(Duration::from_millis(400)))
            .unwrap();
        let start = Instant::now();
        assert!(matches!(first.read(&mut buf), Ok(0) | Err(_)));
        assert!(
            start.elapsed() < Duration::from_millis(300),
            "evicted, not idle"
        );
        let mut last = conns[3].try_clone().unwrap();
        last.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        tcp_query(&mut last, 9, "web");
        assert_eq!(tcp_answer(&mut last).unwrap().metadata.id, 9);
    }

    #[test]
    fn a_client_over_its_rate_is_dropped_and_others_are_still_answered() {
        let limits = Limits {
            rate: 1.0,
            burst: 5.0,
            ..Limits::default()
        };
        let s = start("127.0.0.1/8", vec![], limits);
        let a = client("127.0.0.1:0");
        for id in 0..20 {
            ask(&a, s.udp, id, "web");
        }
        let b = client("127.0.0.3:0");
        ask(&b, s.udp, 100, "web");
        assert_eq!(answers(&a, Duration::from_millis(500)).len(), 5);
        assert_eq!(answers(&b, Duration::from_millis(500)).len(), 1);
    }
}
