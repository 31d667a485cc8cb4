//! Bridged networks on real containers, inside the test's own network namespace: traffic goes
//! only between the test's containers (and the namespace's loopback).

use crate::support::*;

fn inspect(b: &Berth, kind: &str, name: &str) -> serde_json::Value {
    b.inspect(kind, name)
}

/// `ip -o link` names in the test's namespace.
fn links(b: &Berth) -> Vec<String> {
    let out = b.in_netns("ip").args(["-o", "link"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

fn ruleset(b: &Berth) -> String {
    let out = b
        .in_netns("nft")
        .args(["list", "ruleset"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ip_on(b: &Berth, container: &str, network: &str) -> String {
    inspect(b, "container", container)["NetworkSettings"]["Networks"][network]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn containers_on_a_network_reach_each_other_and_no_one_else_does() {
    if !root_or_skip("containers_on_a_network_reach_each_other_and_no_one_else_does") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    b.cli_ok(&["network", "create", "--label", "tier=front", "front"]);
    let n = inspect(&b, "network", "front");
    assert_eq!(n["IPAM"]["Config"][0]["Subnet"], "172.18.0.0/24", "{n}");
    assert_eq!(n["Labels"]["tier"], "front");
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "front",
        "bb:1",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/var/www",
    ]);
    let v = inspect(&b, "container", "web");
    let net = &v["NetworkSettings"]["Networks"]["front"];
    let ip = net["IPAddress"].as_str().unwrap().to_string();
    assert_eq!(ip, "172.18.0.2");
    assert_eq!(net["Gateway"], "172.18.0.1");
    assert_eq!(net["MacAddress"], "02:42:ac:12:00:02");
    assert_eq!(v["HostConfig"]["NetworkMode"], "front");
    // Debian's busybox wget crashes with -T: `timeout` bounds it instead, under a shell (as
    // PID 1, wget would ignore timeout's SIGTERM; `; exit` keeps sh from exec-ing it).
    let fetch = |secs: u32| format!("timeout {secs} wget -q -O- http://{ip}/; exit $?");
    // Busybox httpd may take a moment to listen: poll with a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = b.cli(&[
            "run",
            "--rm",
            "--network",
            "front",
            "bb:1",
            "sh",
            "-c",
            &fetch(5),
        ]);
        if out.status.success() {
            assert_eq!(stdout(&out), "hello from busybox\n");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", stderr(&out));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The container's own name and address are in its /etc/hosts.
    let hosts = b.cli_ok(&["exec", "web", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains(&format!("{ip}\t")) && hosts.contains(" web"),
        "{hosts}"
    );
    // --add-host adds names, host-gateway being the network's gateway.
    let hosts = b.cli_ok(&[
        "run",
        "--rm",
        "--network",
        "front",
        "--add-host",
        "gw:host-gateway",
        "--add-host",
        "db:10.1.2.3",
        "bb:1",
        "cat",
        "/etc/hosts",
    ]);
    assert!(
        hosts.contains("172.18.0.1\tgw\n") && hosts.contains("10.1.2.3\tdb\n"),
        "{hosts}"
    );
    // --network container:web shares web's namespace: its address, its localhost.
    let out = b.cli_ok(&[
        "run",
        "--rm",
        "--network",
        "container:web",
        "bb:1",
        "sh",
        "-c",
        "timeout 5 wget -q -O- http://127.0.0.1/; exit $?",
    ]);
    assert_eq!(out, "hello from busybox\n");
    // Another network and the default one cannot reach it.
    b.cli_ok(&["network", "create", "back"]);
    assert_eq!(
        inspect(&b, "network", "back")["IPAM"]["Config"][0]["Subnet"],
        "172.18.1.0/24"
    );
    for network in ["back", "berth0"] {
        let out = b.cli(&[
            "run",
            "--rm",
            "--network",
            network,
            "bb:1",
            "sh",
            "-c",
            &fetch(2),
        ]);
        assert!(
            !out.status.success(),
            "reached from {network}: {}",
            stdout(&out)
        );
    }
    // A static address is honoured, and refused when taken or outside the subnet.
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "fixed",
        "--network",
        "front",
        "--ip",
        "172.18.0.50",
        "bb:1",
        "sleep",
        "1000",
    ]);
    assert_eq!(ip_on(&b, "fixed", "front"), "172.18.0.50");
    for (ip, why) in [
        ("172.18.0.50", "already in use"),
        ("10.0.0.5", "not a free host address"),
    ] {
        let out = b.cli(&[
            "run",
            "-d",
            "--network",
            "front",
            "--ip",
            ip,
            "bb:1",
            "true",
        ]);
        assert!(stderr(&out).contains(why), "{ip}: {}", stderr(&out));
    }
    // A network in use cannot be removed; the error names its containers.
    let out = b.cli(&["network", "rm", "front"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("fixed") && stderr(&out).contains("web"),
        "{}",
        stderr(&out)
    );
    // Removing everything leaves nothing of berth's in the namespace.
    b.cli_ok(&["container", "rm", "-f", "web", "fixed"]);
    // (Container veths are `bth` + 12 characters; bridges of user networks `bth-`...) The
    // kernel removes a released namespace, and its veths with it, a moment later.
    eventually("the containers' veths to go", || {
        let l = links(&b);
        (!l.iter()
            .any(|l| l.starts_with("bth") && !l.starts_with("bth-")))
        .then_some(())
        .ok_or(format!("{l:?}"))
    });
    b.cli_ok(&["network", "rm", "front", "back", "berth0"]);
    assert_eq!(links(&b), vec!["lo"]);
    assert!(!ruleset(&b).contains("berth"), "{}", ruleset(&b));
    // No mount of the state root is left but the test's own namespace.
    let root = b.path().to_string_lossy().into_owned();
    let mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&root) && !l.contains(&format!("{root}/netns ")))
        .map(String::from)
        .collect();
    assert!(mounts.is_empty(), "{mounts:?}");
    assert!(b.cli_ok(&["network", "ls", "-q"]).is_empty());
}

#[test]
fn an_internal_network_has_no_way_out() {
    if !root_or_skip("an_internal_network_has_no_way_out") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    b.cli_ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.99.0.0/24",
        "sealed",
    ]);
    // Only the subnet's own route: no default route (destination 00000000).
    let routes = b.cli_ok(&[
        "run",
        "--rm",
        "--network",
        "sealed",
        "bb:1",
        "cat",
        "/proc/net/route",
    ]);
    let dests: Vec<&str> = routes
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(dests, vec!["0000630A"], "{routes}");
    // A bridged container has its default route through the gateway.
    let routes = b.cli_ok(&["run", "--rm", "bb:1", "cat", "/proc/net/route"]);
    assert!(
        routes
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some("00000000")),
        "{routes}"
    );
    // The firewall drops what leaves the internal bridge and masquerades only berth0.
    let rules = ruleset(&b);
    assert!(rules.contains("table ip berth"), "{rules}");
    assert_eq!(rules.matches("masquerade").count(), 1, "{rules}");
    // A subnet a host route already uses is never picked.
    let st = b
        .in_netns("ip")
        .args(["route", "add", "172.18.0.0/24", "dev", "lo"])
        .status()
        .unwrap();
    assert!(st.success());
    b.cli_ok(&["network", "create", "next"]);
    assert_eq!(
        inspect(&b, "network", "next")["IPAM"]["Config"][0]["Subnet"],
        "172.18.1.0/24"
    );
    let bad = b.cli(&["network", "create", "--subnet", "10.99.0.128/25", "overlap"]);
    assert!(stderr(&bad).contains("overlaps"), "{}", stderr(&bad));
    let bad = b.cli(&["network", "create", "sealed"]);
    assert!(stderr(&bad).contains("already exists"), "{}", stderr(&bad));
    b.cli_ok(&["network", "prune"]);
    assert_eq!(b.cli_ok(&["network", "ls", "-q"]), "berth0\n");
}

/// A stub resolver on 127.0.0.1:5353 inside the test's namespace: every A query gets
/// 10.20.30.40. Runs on a thread of the test process that joined the namespace.
fn stub_resolver(b: &Berth) {
    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::{rdata::A, RData, Record};
    let (tx, rx) = std::sync::mpsc::channel();
    b.on_netns_thread(move || {
        let sock = std::net::UdpSocket::bind("127.0.0.1:5353").unwrap();
        tx.send(()).unwrap();
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut r = Message::response(q.metadata.id, q.metadata.op_code);
            r.metadata.response_code = ResponseCode::NoError;
            r.metadata.recursion_available = true;
            for query in q.queries {
                if query.query_type() == hickory_proto::rr::RecordType::A {
                    r.add_answer(Record::from_rdata(
                        query.name().clone(),
                        60,
                        RData::A(A("10.20.30.40".parse().unwrap())),
                    ));
                }
                r.add_query(query);
            }
            let _ = sock.send_to(&r.to_vec().unwrap(), from);
        }
    });
    rx.recv().unwrap();
}

/// The addresses busybox's nslookup prints for `name` (after the server's own lines).
fn lookup(b: &Berth, network: &str, extra: &[&str], name: &str) -> Vec<String> {
    let mut args = vec!["run", "--rm", "--network", network];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["bb:1", "nslookup", name]);
    let out = b.cli(&args);
    let text = stdout(&out);
    text.split("Name:")
        .skip(1)
        .flat_map(|block| {
            block
                .lines()
                .filter_map(|l| l.trim().strip_prefix("Address:"))
                .map(|a| a.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn containers_find_each_other_by_name_alias_and_link() {
    if !root_or_skip("containers_find_each_other_by_name_alias_and_link") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    // Names the network does not know go to the stub resolver on the namespace's loopback.
    std::fs::create_dir_all(b.path().join("state")).unwrap();
    std::fs::write(
        b.path().join("state/config.json"),
        r#"{"dns-forward": ["127.0.0.1:5353"]}"#,
    )
    .unwrap();
    stub_resolver(&b);
    b.cli_ok(&["network", "create", "front"]);
    for (name, alias) in [("web", "www"), ("web2", "www")] {
        b.cli_ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "front",
            "--network-alias",
            alias,
            "--network-alias",
            &format!("{name}-only"),
            "bb:1",
            "sleep",
            "1000",
        ]);
    }
    let web = ip_on(&b, "web", "front");
    let web2 = ip_on(&b, "web2", "front");
    assert_eq!(lookup(&b, "front", &[], "web"), vec![web.clone()]);
    assert_eq!(lookup(&b, "front", &[], "web2-only"), vec![web2.clone()]);
    let mut both = lookup(&b, "front", &[], "www");
    both.sort();
    assert_eq!(
        both,
        vec![web.clone(), web2.clone()],
        "a shared alias has both"
    );
    // A link alias resolves for the linking container only.
    assert_eq!(
        lookup(&b, "front", &["--link", "web:db"], "db"),
        vec![web.clone()]
    );
    assert_eq!(
        lookup(&b, "front", &[], "db"),
        vec!["10.20.30.40"],
        "forwarded"
    );
    // Everything else is forwarded.
    assert_eq!(
        lookup(&b, "front", &[], "example.test"),
        vec!["10.20.30.40"]
    );
    // Another network's server does not know these names.
    b.cli_ok(&["network", "create", "back"]);
    assert_eq!(lookup(&b, "back", &[], "web"), vec!["10.20.30.40"]);
    // A recreated container's new address is answered at once.
    b.cli_ok(&["container", "rm", "-f", "web"]);
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "front",
        "--ip",
        "172.18.0.77",
        "bb:1",
        "sleep",
        "1000",
    ]);
    assert_eq!(lookup(&b, "front", &[], "web"), vec!["172.18.0.77"]);
    // resolv.conf points at the network's gateway.
    let resolv = b.cli_ok(&["exec", "web", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 172.18.0.1"), "{resolv}");
    b.cli_ok(&["container", "rm", "-f", "web", "web2"]);
    b.cli_ok(&["network", "rm", "front", "back"]);
    // The DNS servers are gone with their networks.
    let root = b.path().to_string_lossy().into_owned();
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        assert!(
            !(cmd.contains("__dns") && cmd.contains(&root)),
            "left: {cmd}"
        );
    }
}

/// `busybox ARGS` run in the test's namespace (the host side of its containers).
fn host_busybox(b: &Berth, args: &[&str]) -> std::process::Output {
    b.in_netns(tool("busybox", "busybox-static"))
        .args(args)
        .output()
        .unwrap()
}

/// Polls `f` for up to 20 s.
fn eventually(what: &str, mut f: impl FnMut() -> Result<(), String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match f() {
            Ok(()) => return,
            Err(e) if std::time::Instant::now() > deadline => panic!("{what}: {e}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}

#[test]
fn published_ports_reach_containers_from_the_host_and_other_networks() {
    if !root_or_skip("published_ports_reach_containers_from_the_host_and_other_networks") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    let httpd = ["httpd", "-f", "-p", "80", "-h", "/var/www"];
    let mut args = vec![
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "127.0.0.1:8080:80",
        "-p",
        "8081:80",
    ];
    args.extend_from_slice(&["bb:1"]);
    args.extend_from_slice(&httpd);
    b.cli_ok(&args);
    // From the host, through 127.0.0.1 and through the wildcard binding.
    for url in ["http://127.0.0.1:8080/", "http://127.0.0.1:8081/"] {
        eventually(url, || {
            let out = host_busybox(&b, &["wget", "-q", "-O-", url]);
            (stdout(&out) == "hello from busybox\n")
                .then_some(())
                .ok_or_else(|| stderr(&out))
        });
    }
    let ports = &inspect(&b, "container", "web")["NetworkSettings"]["Ports"];
    assert_eq!(ports["80/tcp"][0]["HostIp"], "127.0.0.1", "{ports}");
    assert_eq!(ports["80/tcp"][0]["HostPort"], "8080");
    assert_eq!(ports["80/tcp"][1]["HostPort"], "8081");
    // The loopback binding is the host's only: no rule takes it from outside.
    let rules = ruleset(&b);
    let prerouting = rules
        .split("chain prerouting")
        .nth(1)
        .unwrap_or("")
        .split('}')
        .next()
        .unwrap_or("");
    assert!(!prerouting.contains("8080"), "{rules}");
    assert!(prerouting.contains("8081"), "{rules}");
    // A container of another network reaches the wildcard binding through the host.
    b.cli_ok(&["network", "create", "other"]);
    eventually("a published port from another network", || {
        let out = b.cli(&[
            "run",
            "--rm",
            "--network",
            "other",
            "bb:1",
            "sh",
            "-c",
            "timeout 5 wget -q -O- http://172.18.0.1:8081/; exit $?",
        ]);
        (stdout(&out) == "hello from busybox\n")
            .then_some(())
            .ok_or_else(|| stderr(&out))
    });
    // -P publishes every exposed port on a free random port, which inspect and port show.
    let mut args = vec![
        "run", "-d", "--name", "all", "-P", "--expose", "80", "--expose", "90", "bb:1",
    ];
    args.extend_from_slice(&httpd);
    b.cli_ok(&args);
    let ports = inspect(&b, "container", "all")["NetworkSettings"]["Ports"].clone();
    let random: u16 = ports["80/tcp"][0]["HostPort"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let other: u16 = ports["90/tcp"][0]["HostPort"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(random > 1024 && other > 1024 && random != other, "{ports}");
    let ps = b.cli_ok(&["ps", "--format", "json", "--filter", "name=all"]);
    assert!(ps.contains(&format!("0.0.0.0:{random}->80/tcp")), "{ps}");
    let listed = b.cli_ok(&["container", "port", "all"]);
    assert!(
        listed.contains(&format!("80/tcp -> 0.0.0.0:{random}")),
        "{listed}"
    );
    let url = format!("http://127.0.0.1:{random}/");
    eventually("the random port", || {
        let out = host_busybox(&b, &["wget", "-q", "-O-", &url]);
        (stdout(&out) == "hello from busybox\n")
            .then_some(())
            .ok_or_else(|| stderr(&out))
    });
    // Stopping a container takes its published ports away at once.
    b.cli_ok(&["container", "stop", "-t", "1", "all"]);
    assert!(
        !ruleset(&b).contains(&format!("dport {random}")),
        "{}",
        ruleset(&b)
    );
    // A host port that is taken is a clear error, and nothing of it is left.
    let out = b.cli(&[
        "run",
        "-d",
        "--name",
        "clash",
        "-p",
        "127.0.0.1:8080:80",
        "bb:1",
        "sleep",
        "100",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot publish 127.0.0.1:8080/tcp")
            && stderr(&out).contains("in use"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        inspect(&b, "container", "clash")["State"]["Status"],
        "created"
    );
    assert_eq!(ruleset(&b).matches("8080").count(), 1, "{}", ruleset(&b));
    // UDP: berth's own DNS server (the binary and the host's libraries bound in) answers
    // inside the container on port 53, published on 127.0.0.1:5300/udp.
    let records = b.path().join("records");
    std::fs::create_dir_all(&records).unwrap();
    std::fs::write(
        records.join("records.json"),
        r#"{"names": {"probe": ["10.9.8.7"]}, "links": {}}"#,
    )
    .unwrap();
    let bin = format!("{}:/berth:ro", env!("CARGO_BIN_EXE_berth"));
    let rec = format!("{}:/records", records.display());
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "udp",
        "-p",
        "127.0.0.1:5300:53/udp",
        "-v",
        &bin,
        "-v",
        &rec,
        "-v",
        "/usr/lib:/usr/lib:ro",
        "-v",
        "/usr/lib:/lib:ro",
        "-v",
        "/usr/lib64:/lib64:ro",
        "bb:1",
        "/berth",
        "__dns",
        "/records",
        // Anyone: the queries come through the published port.
        "0.0.0.0/0",
    ]);
    eventually("a DNS answer through a published UDP port", || {
        let got = udp_query(&b, "127.0.0.1:5300", "probe");
        (got == vec!["10.9.8.7".to_string()])
            .then_some(())
            .ok_or(format!("{got:?}"))
    });
    // Removing the containers removes their rules.
    b.cli_ok(&["container", "rm", "-f", "web", "all", "clash", "udp"]);
    let rules = ruleset(&b);
    assert!(!rules.contains("dnat to"), "{rules}");
}

/// Sends a DNS query for `name` over UDP to `server` from inside the test's namespace; the
/// A records of the answer.
fn udp_query(b: &Berth, server: &str, name: &str) -> Vec<String> {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RData, RecordType};
    let server: std::net::SocketAddr = server.parse().unwrap();
    let name = name.to_string();
    b.on_netns_thread(move || {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(1)))
            .unwrap();
        let mut m = Message::new(42, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(
            Name::from_ascii(&name).unwrap(),
            RecordType::A,
        ));
        sock.send_to(&m.to_vec().unwrap(), server).unwrap();
        let mut buf = [0u8; 1500];
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            return Vec::new();
        };
        Message::from_vec(&buf[..n])
            .map(|r| {
                r.answers
                    .iter()
                    .filter_map(|a| match &a.data {
                        RData::A(ip) => Some(ip.0.to_string()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    })
    .join()
    .unwrap()
}

#[test]
fn connect_and_disconnect_a_running_container() {
    if !root_or_skip("connect_and_disconnect_a_running_container") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    b.cli_ok(&["network", "create", "a"]);
    b.cli_ok(&["network", "create", "b"]);
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "client",
        "--network",
        "a",
        "bb:1",
        "sleep",
        "1000",
    ]);
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "b",
        "bb:1",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/var/www",
    ]);
    let fetch = "timeout 3 wget -q -O- http://srv/; exit $?";
    assert!(!b
        .cli(&["exec", "client", "sh", "-c", fetch])
        .status
        .success());
    b.cli_ok(&["network", "connect", "--alias", "cli", "b", "client"]);
    let v = inspect(&b, "container", "client");
    let on_b = v["NetworkSettings"]["Networks"]["b"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(on_b.starts_with("172.18.1."), "{v}");
    // The primary network keeps the default route; the new interface is there at once, and
    // names of the second network resolve through the first network's server.
    let ifaces = b.cli_ok(&["exec", "client", "cat", "/proc/net/dev"]);
    assert!(ifaces.contains("eth1:"), "{ifaces}");
    eventually("srv by name over the new network", || {
        let out = b.cli(&["exec", "client", "sh", "-c", fetch]);
        (stdout(&out) == "hello from busybox\n")
            .then_some(())
            .ok_or_else(|| stderr(&out))
    });
    // The alias on b resolves for b's containers.
    let out = b.cli_ok(&["exec", "srv", "nslookup", "cli"]);
    assert!(out.contains(&on_b), "{out}");
    let again = b.cli(&["network", "connect", "b", "client"]);
    assert!(
        stderr(&again).contains("already connected"),
        "{}",
        stderr(&again)
    );
    b.cli_ok(&["network", "disconnect", "b", "client"]);
    let ifaces = b.cli_ok(&["exec", "client", "cat", "/proc/net/dev"]);
    assert!(!ifaces.contains("eth1:"), "{ifaces}");
    assert!(!b
        .cli(&["exec", "client", "sh", "-c", fetch])
        .status
        .success());
    b.cli_ok(&["container", "rm", "-f", "client", "srv"]);
    b.cli_ok(&["network", "rm", "a", "b"]);
}

#[test]
fn a_foreign_forward_drop_is_reported_with_the_rule_that_lets_berth_through() {
    if !root_or_skip("a_foreign_forward_drop_is_reported_with_the_rule_that_lets_berth_through") {
        return;
    }
    let b = Berth::new();
    let info = b.cli_ok(&["system", "info"]);
    assert!(
        info.contains("no other table drops forwarded traffic"),
        "{info}"
    );
    // What Docker leaves on a host: FORWARD with policy drop (in the test's namespace).
    let nft = |cmd: &str| {
        let st = b.in_netns("nft").arg(cmd).status().unwrap();
        assert!(st.success(), "nft {cmd}");
    };
    nft("add table ip filter");
    nft("add chain ip filter FORWARD { type filter hook forward priority 0; policy drop; }");
    let out = b.cli(&["network", "create", "front"]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("nft insert rule ip filter FORWARD iifname \"bth-"),
        "{}",
        stderr(&out)
    );
    let info = b.cli_ok(&["system", "info"]);
    assert!(info.contains("ip filter FORWARD: policy drop"), "{info}");
    assert!(info.contains("ip_forward:   1"), "{info}");
    b.cli_ok(&["network", "rm", "front"]);
    // Docker's docker0 on 172.17.0.0/16: berth0 takes the first free subnet instead.
    let st = b
        .in_netns("ip")
        .args(["route", "add", "172.17.0.0/16", "dev", "lo"])
        .status()
        .unwrap();
    assert!(st.success());
    b.busybox_image("bb:1");
    b.cli_ok(&["container", "create", "--name", "c1", "bb:1", "true"]);
    assert_eq!(
        inspect(&b, "network", "berth0")["IPAM"]["Config"][0]["Subnet"],
        "172.18.0.0/24"
    );
    b.cli_ok(&["container", "rm", "c1"]);
}
