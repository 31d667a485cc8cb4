//! A network's DNS server under abuse (security issue 14, class 7): a flood of queries for
//! unknown names forwarded to an upstream that never answers, TCP clients that connect and
//! send nothing or half a message, one client flooding while another asks, and containers of
//! another network asking this network's server. The server must stay bounded (descriptors,
//! threads), keep answering its own network, and answer nobody else.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::support::*;

/// The upstream every test forwards to: a socket on the namespace's loopback that reads
/// queries and never answers (stopped when dropped).
struct BlackHole(Arc<AtomicBool>, Option<std::thread::JoinHandle<u64>>);

impl BlackHole {
    fn start(b: &Berth) -> BlackHole {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let flag = stop.clone();
        let t = b.on_netns_thread(move || {
            let sock = UdpSocket::bind("127.0.0.1:5354").unwrap();
            sock.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            tx.send(()).unwrap();
            let mut buf = [0u8; 4096];
            let mut seen = 0;
            while !flag.load(Ordering::Relaxed) {
                if sock.recv_from(&mut buf).is_ok() {
                    seen += 1;
                }
            }
            seen
        });
        rx.recv().unwrap();
        BlackHole(stop, Some(t))
    }

    /// Stops it; the number of queries it swallowed.
    fn stop(mut self) -> u64 {
        self.0.store(true, Ordering::Relaxed);
        self.1.take().unwrap().join().unwrap()
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        if let Some(t) = self.1.take() {
            let _ = t.join();
        }
    }
}

/// A berth root whose DNS servers forward to [`BlackHole`], with the busybox image.
fn setup() -> (Berth, BlackHole) {
    let b = Berth::new();
    b.busybox_image("bb:1");
    std::fs::create_dir_all(b.path().join("state")).unwrap();
    std::fs::write(
        b.path().join("state/config.json"),
        r#"{"dns-forward": ["127.0.0.1:5354"]}"#,
    )
    .unwrap();
    let hole = BlackHole::start(&b);
    (b, hole)
}

fn sleeper(b: &Berth, name: &str, network: &str) {
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        name,
        "--network",
        network,
        "bb:1",
        "sleep",
        "1000",
    ]);
}

fn gateway(b: &Berth, network: &str) -> SocketAddr {
    let gw = b.inspect("network", network)["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .unwrap()
        .parse::<Ipv4Addr>()
        .unwrap();
    SocketAddr::from((gw, 53))
}

fn ip_on(b: &Berth, container: &str, network: &str) -> String {
    b.inspect("container", container)["NetworkSettings"]["Networks"][network]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Runs `f` on a thread inside `container`'s network namespace (its sockets are the
/// container's: they leave through its interface with its address).
fn in_container<T: Send + 'static>(
    b: &Berth,
    container: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let pid = b.inspect("container", container)["State"]["Pid"]
        .as_i64()
        .unwrap();
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
    std::thread::spawn(move || {
        rustix::thread::move_into_link_name_space(
            std::os::fd::AsFd::as_fd(&ns),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .unwrap();
        f()
    })
}

fn query(id: u16, name: &str) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m.to_vec().unwrap()
}

fn addresses(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|a| match &a.data {
            RData::A(ip) => Some(ip.0.to_string()),
            _ => None,
        })
        .collect()
}

/// One UDP query; the answer with the query's ID, if one came within `wait`.
fn udp_ask(server: SocketAddr, name: &str, wait: Duration) -> Option<Message> {
    let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
    sock.set_read_timeout(Some(wait)).unwrap();
    let id = 0x4242;
    sock.send_to(&query(id, name), server).ok()?;
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            return None;
        };
        match Message::from_vec(&buf[..n]) {
            Ok(m) if from == server && m.metadata.id == id => return Some(m),
            _ => continue,
        }
    }
    None
}

/// One TCP query; the answer if it came within `wait` (connecting included).
fn tcp_ask(server: SocketAddr, name: &str, wait: Duration) -> Option<Message> {
    let start = Instant::now();
    let mut s = TcpStream::connect_timeout(&server, wait).ok()?;
    let left = wait.checked_sub(start.elapsed())?;
    s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
        .unwrap();
    let q = query(0x4343, name);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    s.write_all(&framed).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut m = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut m).ok()?;
    Message::from_vec(&m).ok()
}

/// The pid of `network`'s DNS server (of this test's root).
fn dns_pid(b: &Berth, network: &str) -> i32 {
    let root = b.path().to_string_lossy().into_owned();
    let dir = format!("/networks/{network} ");
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(" __dns ") && cmd.contains(&root) && cmd.contains(&dir) {
            return pid;
        }
    }
    panic!("no DNS server for {network}");
}

/// A process's (resident KiB, open descriptors, threads); `None` once it is gone.
fn usage(pid: i32) -> Option<(u64, usize, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((field("VmRSS:"), fds, field("Threads:") as usize))
}

/// Samples `pid`'s usage every 20 ms until stopped: the highest of each.
fn sampler(pid: i32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(u64, usize, usize)> {
    std::thread::spawn(move || {
        let mut max = (0, 0, 0);
        while !stop.load(Ordering::Relaxed) {
            if let Some((rss, fds, threads)) = usage(pid) {
                max = (max.0.max(rss), max.1.max(fds), max.2.max(threads));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        max
    })
}

/// Polls `f` until it holds or `secs` passed.
fn within(secs: u64, what: &str, mut f: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match f() {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => panic!("{what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// `web`'s address as `server` answers it to `client` over UDP within a second.
fn resolves(b: &Berth, client: &str, server: SocketAddr, name: &'static str) -> Vec<String> {
    in_container(b, client, move || {
        udp_ask(server, name, Duration::from_secs(1))
            .map(|m| addresses(&m))
            .unwrap_or_default()
    })
    .join()
    .unwrap()
}

#[test]
fn a_flood_of_unanswered_names_leaves_the_server_bounded_and_answering() {
    if !root_or_skip("a_flood_of_unanswered_names_leaves_the_server_bounded_and_answering") {
        return;
    }
    let (b, hole) = setup();
    b.cli_ok(&["network", "create", "front"]);
    for c in ["web", "flood", "other"] {
        sleeper(&b, c, "front");
    }
    let server = gateway(&b, "front");
    let web = ip_on(&b, "web", "front");
    assert_eq!(resolves(&b, "other", server, "web"), vec![web.clone()]);
    let pid = dns_pid(&b, "front");
    let idle = usage(pid).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let sampling = sampler(pid, stop.clone());

    // Another client keeps asking (a known name, and an unknown one) while one floods.
    let probing = Arc::new(AtomicBool::new(true));
    let probe = |name: &'static str, wait: u64| {
        let flag = probing.clone();
        in_container(&b, "other", move || {
            let (mut asked, mut answered) = (0, 0);
            while flag.load(Ordering::Relaxed) {
                asked += 1;
                let name = name.replace('N', &asked.to_string());
                // The unknown name comes back too (SERVFAIL: the upstream never answers).
                if udp_ask(server, &name, Duration::from_secs(wait))
                    .is_some_and(|m| name != "web" || !m.answers.is_empty())
                {
                    answered += 1;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (asked, answered)
        })
    };
    let known_probe = probe("web", 1);
    let forwarded_probe = probe("probeN.example", 5);
    // 20,000 queries for names nobody knows, as fast as the container can send them.
    const FLOOD: usize = 20_000;
    let flooding = in_container(&b, "flood", move || {
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        sock.set_nonblocking(true).unwrap();
        let start = Instant::now();
        let (mut sent, mut replies) = (0usize, 0usize);
        let mut buf = [0u8; 4096];
        for i in 0..FLOOD {
            let q = query(i as u16, &format!("nx{i}.unknown.example"));
            loop {
                match sock.send_to(&q, server) {
                    Ok(_) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_micros(100))
                    }
                    Err(e) => panic!("flood: {e}"),
                }
            }
            sent += 1;
            while sock.recv_from(&mut buf).is_ok() {
                replies += 1;
            }
        }
        (sent, start.elapsed(), replies)
    });
    let (sent, took, replies) = flooding.join().unwrap();
    // Right after the flood: the network's names still resolve, and quickly.
    let after = Instant::now();
    within(5, "web resolving after the flood", || {
        let got = resolves(&b, "other", server, "web");
        (got == vec![web.clone()])
            .then_some(())
            .ok_or(format!("{got:?}"))
    });
    let recovered = after.elapsed();
    // And a little later, once every forwarded query has timed out.
    std::thread::sleep(Duration::from_secs(3));
    probing.store(false, Ordering::Relaxed);
    let (asked, known) = known_probe.join().unwrap();
    let (asked_forwarded, forwarded) = forwarded_probe.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    let (rss, fds, threads) = sampling.join().unwrap();
    let swallowed = hole.stop();
    let settled = usage(pid);
    eprintln!(
        "dns flood: sent {sent} in {took:.2?} ({:.0} queries/s), {replies} replies to the \
         flooder, {swallowed} forwarded upstream; server idle (rss KiB, fds, threads) {idle:?}, \
         peak ({rss}, {fds}, {threads}), after {settled:?}; the other client: {known}/{asked} \
         known names and {forwarded}/{asked_forwarded} forwarded answered during the flood, web \
         resolved {recovered:.2?} after it",
        sent as f64 / took.as_secs_f64()
    );
    assert!(settled.is_some(), "the DNS server died in the flood");
    assert_eq!(dns_pid(&b, "front"), pid, "the DNS server was restarted");
    assert!(threads <= 2, "{threads} threads under the flood");
    assert!(fds <= 400, "{fds} descriptors under the flood");
    assert!(
        known * 10 >= asked * 9,
        "the other client got {known} of {asked} known names answered during the flood"
    );
    assert!(
        forwarded * 10 >= asked_forwarded * 9,
        "the other client got {forwarded} of {asked_forwarded} forwarded names answered"
    );
    let (_, fds_after, threads_after) = settled.unwrap();
    assert!(fds_after <= idle.1 + 2 && threads_after == idle.2);
    for c in ["web", "flood", "other"] {
        b.cli_ok(&["container", "rm", "-f", c]);
    }
    b.cli_ok(&["network", "rm", "front"]);
}

/// Framed (length-prefixed) query bytes for TCP.
fn framed(id: u16, name: &str) -> Vec<u8> {
    let q = query(id, name);
    let mut f = (q.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(&q);
    f
}

/// `other`'s TCP and UDP answers for `web` (2 s each) and how long they took.
fn both_ways(
    b: &Berth,
    server: SocketAddr,
) -> (Option<Vec<String>>, Option<Vec<String>>, Duration) {
    in_container(b, "other", move || {
        let start = Instant::now();
        let tcp = tcp_ask(server, "web", Duration::from_secs(2)).map(|m| addresses(&m));
        let udp = udp_ask(server, "web", Duration::from_secs(2)).map(|m| addresses(&m));
        (tcp, udp, start.elapsed())
    })
    .join()
    .unwrap()
}

/// Opens `n` connections from `container` to `server`, each sending its part of `parts`
/// (nothing once they run out); holds them until the returned sender is dropped or sent to.
fn hold_connections(
    b: &Berth,
    container: &str,
    server: SocketAddr,
    parts: Vec<Vec<u8>>,
    n: usize,
) -> (
    Vec<TcpStream>,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<TcpStream>>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let holder = in_container(b, container, move || {
        let mut held = Vec::new();
        for i in 0..n {
            if let Ok(mut s) = TcpStream::connect_timeout(&server, Duration::from_secs(1)) {
                if let Some(p) = parts.get(i) {
                    s.write_all(p).unwrap();
                }
                held.push(s);
            }
        }
        tx.send(held.iter().map(|s| s.try_clone().unwrap()).collect())
            .unwrap();
        let _ = done_rx.recv();
    });
    (rx.recv().unwrap(), done_tx, holder)
}

#[test]
fn silent_half_sent_and_slow_tcp_clients_do_not_hold_up_others() {
    if !root_or_skip("silent_half_sent_and_slow_tcp_clients_do_not_hold_up_others") {
        return;
    }
    let (b, _hole) = setup();
    b.cli_ok(&["network", "create", "front"]);
    for c in ["web", "slow", "other"] {
        sleeper(&b, c, "front");
    }
    let server = gateway(&b, "front");
    let web = ip_on(&b, "web", "front");
    let pid = dns_pid(&b, "front");
    // Connections that send nothing, half a length, a length and half a message, and one
    // asking a name the upstream never answers.
    let parts = vec![
        Vec::new(),
        framed(1, "web")[..1].to_vec(),
        framed(2, "web")[..9].to_vec(),
        framed(3, "nowhere.example"),
    ];
    let (held, done, holder) = hold_connections(&b, "slow", server, parts, 4);
    // Another client's TCP and UDP queries are answered at once.
    let (tcp, udp, took) = both_ways(&b, server);
    assert_eq!(tcp, Some(vec![web.clone()]), "TCP, {took:?}");
    assert_eq!(udp, Some(vec![web.clone()]), "UDP, {took:?}");
    // Two queries in one write are both answered, in order.
    let pipelined = in_container(&b, "other", move || {
        let mut s = TcpStream::connect(server).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut both = framed(7, "web");
        both.extend(framed(8, "other"));
        s.write_all(&both).unwrap();
        let mut ids = Vec::new();
        for _ in 0..2 {
            let mut len = [0u8; 2];
            s.read_exact(&mut len).unwrap();
            let mut m = vec![0u8; u16::from_be_bytes(len) as usize];
            s.read_exact(&mut m).unwrap();
            ids.push(Message::from_vec(&m).unwrap().metadata.id);
        }
        ids
    })
    .join()
    .unwrap();
    assert_eq!(pipelined, vec![7, 8]);
    // The server does not wait forever: the silent and half-sent connections are closed.
    let start = Instant::now();
    for mut s in held.into_iter().take(3) {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = [0u8; 16];
        let r = s.read(&mut buf);
        assert!(
            matches!(r, Ok(0))
                || r.as_ref()
                    .is_err_and(|e| e.kind() != std::io::ErrorKind::WouldBlock),
            "{r:?} after {:?}",
            start.elapsed()
        );
    }
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    drop(done);
    holder.join().unwrap();
    // One client holding many connections: the others are still served, and the server's
    // descriptors stay bounded.
    let (held, done, holder) = hold_connections(&b, "slow", server, Vec::new(), 200);
    let (tcp, udp, took) = both_ways(&b, server);
    let (_, fds, threads) = usage(pid).expect("the DNS server is running");
    eprintln!(
        "dns tcp: {} connections opened by one client; the other's TCP and UDP answers in \
         {took:.2?}; server fds {fds}, threads {threads}",
        held.len()
    );
    assert_eq!(tcp, Some(vec![web.clone()]), "TCP, {took:?}");
    assert_eq!(udp, Some(vec![web.clone()]), "UDP, {took:?}");
    assert!(
        fds <= 100,
        "{fds} descriptors with {} connections",
        held.len()
    );
    drop(done);
    holder.join().unwrap();
    drop(held);
    for c in ["web", "slow", "other"] {
        b.cli_ok(&["container", "rm", "-f", c]);
    }
    b.cli_ok(&["network", "rm", "front"]);
}

#[test]
fn a_container_of_another_network_gets_no_answer_from_this_networks_dns() {
    if !root_or_skip("a_container_of_another_network_gets_no_answer_from_this_networks_dns") {
        return;
    }
    let (b, _hole) = setup();
    b.cli_ok(&["network", "create", "a"]);
    b.cli_ok(&["network", "create", "b"]);
    sleeper(&b, "acli", "a");
    sleeper(&b, "aweb", "a");
    sleeper(&b, "bweb", "b");
    sleeper(&b, "bcli", "b");
    sleeper(&b, "both", "a");
    b.cli_ok(&["network", "connect", "b", "both"]);
    let (gw_a, gw_b) = (gateway(&b, "a"), gateway(&b, "b"));
    let bweb = ip_on(&b, "bweb", "b");
    // b's own containers, and one on both networks, are answered by b's server.
    assert_eq!(resolves(&b, "bcli", gw_b, "bweb"), vec![bweb.clone()]);
    assert_eq!(resolves(&b, "both", gw_b, "bweb"), vec![bweb.clone()]);
    let out = b.cli_ok(&["exec", "bcli", "nslookup", "bweb"]);
    assert!(out.contains(&bweb), "{out}");
    // a's container asking b's server (UDP and TCP): no answer, or a refusal.
    let (udp, tcp) = in_container(&b, "acli", move || {
        let udp = udp_ask(gw_b, "bweb", Duration::from_secs(2));
        let tcp = tcp_ask(gw_b, "bweb", Duration::from_secs(2));
        (udp, tcp)
    })
    .join()
    .unwrap();
    for (how, m) in [("UDP", udp), ("TCP", tcp)] {
        if let Some(m) = m {
            assert!(
                m.answers.is_empty() && m.metadata.response_code == ResponseCode::Refused,
                "{how}: b's server answered a's container: {m:?}"
            );
        }
    }
    // a's own server still answers it (its names only).
    let aweb = ip_on(&b, "aweb", "a");
    assert_eq!(resolves(&b, "acli", gw_a, "aweb"), vec![aweb]);
    let mut args = vec!["container", "rm", "-f"];
    args.extend(["acli", "aweb", "bweb", "bcli", "both"]);
    b.cli_ok(&args);
    b.cli_ok(&["network", "rm", "a", "b"]);
}
