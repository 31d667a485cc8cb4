//! Examples of per-service settings: storage, networking, resources, runtime options.

use super::*;

#[test]
fn secrets_and_configs() {
    let p = load_example("secrets-configs");
    let db_password = &p.secrets["db_password"];
    assert!(ends_with(
        db_password.file.as_deref(),
        "secrets-configs/secrets/db_password.txt"
    ));
    assert_eq!(
        p.secrets["api_token"].environment.as_deref(),
        Some("API_TOKEN")
    );
    assert!(ends_with(
        p.configs["app_ini"].file.as_deref(),
        "config/app.ini"
    ));
    assert_eq!(
        p.configs["banner"].content.as_deref(),
        Some("Welcome to the berth demo\n")
    );
    let app = svc(&p, "app");
    assert_eq!(app.secrets[0].source, "api_token");
    assert_eq!(app.secrets[0].target, "/run/secrets/api_token");
    assert_eq!(app.secrets[0].mode, Some(0o400));
    assert_eq!(app.secrets[1].target, "/etc/app/db_password");
    assert_eq!(app.secrets[1].uid.as_deref(), Some("1000"));
    assert_eq!(app.configs[0].target, "/etc/app/app.ini");
    assert_eq!(app.configs[1].source, "banner");
    assert_eq!(app.configs[1].target, "/banner");
    assert_eq!(svc(&p, "db").secrets[0].target, "/run/secrets/db_password");
}

#[test]
fn volumes() {
    let p = load_example("volumes");
    assert_eq!(p.volumes["db-data"].name, "volumes_db-data");
    assert_eq!(p.volumes["shared"].name, "shared-data");
    assert!(p.volumes["backups"].external);
    assert_eq!(p.volumes["backups"].name, "company-backups");
    assert_eq!(
        p.volumes["uploads"].labels["com.example.purpose"],
        "user uploads"
    );

    let init = &svc(&p, "db").volumes[1];
    assert_eq!(init.kind, VolumeKind::Bind);
    assert!(ends_with(init.source.as_deref(), "volumes/initdb"));
    assert!(init.read_only);
    assert!(init.bind.as_ref().is_some_and(|b| b.create_host_path));

    let app = svc(&p, "app");
    let kinds: Vec<VolumeKind> = app.volumes.iter().map(|v| v.kind).collect();
    use VolumeKind::*;
    assert_eq!(kinds, [Volume, Bind, Tmpfs, Volume, Volume]);
    assert_eq!(app.volumes[0].source.as_deref(), Some("uploads"));
    assert!(app.volumes[0].volume.as_ref().is_some_and(|v| v.nocopy));
    assert!(ends_with(
        app.volumes[1].source.as_deref(),
        "volumes/static"
    ));
    assert!(app.volumes[1].read_only);
    assert_eq!(app.volumes[2].target, "/tmp");
    assert_eq!(
        app.volumes[2].tmpfs.as_ref().and_then(|t| t.size),
        Some(64 * MIB)
    );
    assert_eq!(app.volumes[3].source, None, "anonymous volume");
    assert_eq!(app.volumes[3].target, "/var/cache/app");
    assert_eq!(app.volumes[4].source.as_deref(), Some("shared"));
    assert!(svc(&p, "backup").volumes[0].read_only);
}

#[test]
fn networks() {
    let p = load_example("networks");
    assert_eq!(p.networks["frontend"].name, "networks_frontend");
    assert_eq!(p.networks["frontend"].driver.as_deref(), Some("bridge"));
    assert!(p.networks["backend"].internal);
    let ipam = p.networks["backend"].ipam.as_ref().expect("backend ipam");
    assert_eq!(ipam.config[0].subnet.as_deref(), Some("172.28.0.0/16"));
    assert_eq!(ipam.config[0].gateway.as_deref(), Some("172.28.0.1"));
    assert!(p.networks["shared"].external);
    assert_eq!(p.networks["shared"].name, "corp-shared");

    let proxy = svc(&p, "proxy");
    let keys: Vec<&str> = proxy.networks.keys().map(String::as_str).collect();
    assert_eq!(keys, ["backend", "frontend", "shared"]);
    let frontend = proxy.networks["frontend"]
        .as_ref()
        .expect("frontend settings");
    assert_eq!(frontend.aliases, strings(&["www", "edge"]));
    assert_eq!(proxy.networks["backend"], None);
    let api = svc(&p, "api").networks["backend"]
        .clone()
        .expect("api on backend");
    assert_eq!(api.ipv4_address.as_deref(), Some("172.28.0.10"));
    assert_eq!(api.aliases, strings(&["api.internal"]));
}

#[test]
fn ports() {
    let p = load_example("ports");
    let web = svc(&p, "web");
    assert_eq!(
        port_list(web),
        [
            "||80/tcp",
            "|8085|80/tcp",
            "127.0.0.1|8086|80/tcp",
            "127.0.0.1||81/tcp",
            "|9000|9000/tcp",
            "|9001|9001/tcp",
            "|8443|443/tcp",
            "|5353|53/udp",
            "::1|8087|80/tcp",
            "||3000/tcp",
            "127.0.0.1|8088|8080/tcp",
            "||8081/tcp",
        ]
    );
    assert!(web.ports[..10].iter().all(|p| p.mode == "ingress"));
    let admin = &web.ports[10];
    assert_eq!(admin.mode, "host");
    assert_eq!(admin.name.as_deref(), Some("admin"));
    assert_eq!(admin.app_protocol.as_deref(), Some("http"));
    assert_eq!(web.expose, strings(&["9100", "9200"]));
}

#[test]
fn deploy() {
    let p = load_example("deploy");
    let worker = svc(&p, "worker");
    assert_eq!(worker.replicas(), 3);
    let deploy = worker.deploy.as_ref().expect("deploy");
    let resources = deploy.resources.as_ref().expect("resources");
    let limits = resources.limits.as_ref().expect("limits");
    assert_eq!(limits.cpus, Some(0.5));
    assert_eq!(limits.memory, Some(256 * MIB));
    assert_eq!(limits.pids, Some(100));
    let reservations = resources.reservations.as_ref().expect("reservations");
    assert_eq!(reservations.memory, Some(64 * MIB));
    let policy = deploy.restart_policy.as_ref().expect("restart_policy");
    assert_eq!(policy.condition.as_deref(), Some("on-failure"));
    assert_eq!(secs(policy.delay), Some(Duration::from_secs(5)));
    assert_eq!(policy.max_attempts, Some(3));
    assert_eq!(secs(policy.window), Some(Duration::from_secs(120)));
    assert_eq!(deploy.labels["com.example.tier"], "batch");

    let api = svc(&p, "api");
    assert_eq!(api.replicas(), 2);
    assert_eq!(api.mem_limit, Some(512 * MIB));
    assert_eq!(api.mem_reservation, Some(128 * MIB));
    assert_eq!(api.cpus, Some(1.5));
    assert_eq!(api.cpu_shares, Some(512));
    assert_eq!(api.pids_limit, Some(200));
    assert_eq!(api.shm_size, Some(128 * MIB));
}

#[test]
fn env_file() {
    let p = load_example("env-file");
    let app = svc(&p, "app");
    let expect = [
        ("TZ", "UTC"),
        ("LOG_LEVEL", "warn"),
        ("APP_ENV", "staging"),
        ("FEATURE_FLAGS", "search,beta-ui"),
        ("WORKERS", "4"),
        ("DATA_DIR", "/home/tester/data"),
        ("RAW", "kept $as is"),
    ];
    for (key, value) in expect {
        assert_eq!(env(app, key), Some(value), "app {key}");
    }
    let worker = svc(&p, "worker");
    assert_eq!(env(worker, "LOG_LEVEL"), Some("info"));
    assert_eq!(env(worker, "APP_ENV"), Some("production"));
}

#[test]
fn kernel() {
    let p = load_example("kernel");
    let router = svc(&p, "router");
    assert_eq!(router.cap_add, strings(&["NET_ADMIN", "NET_BIND_SERVICE"]));
    assert_eq!(router.cap_drop, strings(&["ALL"]));
    assert_eq!(
        (router.ulimits["nproc"].soft, router.ulimits["nproc"].hard),
        (65535, 65535)
    );
    assert_eq!(
        (router.ulimits["nofile"].soft, router.ulimits["nofile"].hard),
        (20000, 40000)
    );
    assert_eq!(router.sysctls["net.core.somaxconn"], "1024");
    assert_eq!(router.sysctls["net.ipv4.tcp_syncookies"], "0");
    assert_eq!(router.tmpfs, strings(&["/run", "/tmp:size=64m,mode=1777"]));
    let hosts: Vec<String> = router
        .extra_hosts
        .iter()
        .map(|h| format!("{}={}", h.host, h.ip))
        .collect();
    assert_eq!(
        hosts,
        strings(&[
            "somehost=162.242.195.82",
            "otherhost=50.31.209.229",
            "host.docker.internal=host-gateway",
            "myhostv6=::1",
        ])
    );
    assert_eq!(router.security_opt, strings(&["no-new-privileges:true"]));
    assert_eq!(router.devices[0].source, "/dev/fuse");
    assert_eq!(router.devices[0].permissions, "rwm");
    let sidecar = svc(&p, "sidecar");
    assert_eq!(sidecar.sysctls["net.ipv4.ip_forward"], "1");
    assert_eq!(sidecar.extra_hosts[0].host, "metrics.internal");
    assert_eq!(sidecar.extra_hosts[0].ip, "10.0.0.5");
}

#[test]
fn links_and_volumes_from() {
    let p = load_example("links-volumes-from");
    let app = svc(&p, "app");
    assert_eq!(app.links, strings(&["db", "db:database"]));
    assert_eq!(
        app.volumes_from,
        strings(&["data:ro", "container:legacy-data"])
    );
    let deps: Vec<&str> = app.depends_on.keys().map(String::as_str).collect();
    assert_eq!(deps, ["data", "db"], "implicit dependencies");
    assert_eq!(start_order(&p), strings(&["data", "db", "app"]));
}

#[test]
fn network_mode_service() {
    let p = load_example("network-mode-service");
    let app = svc(&p, "app");
    assert_eq!(app.network_mode.as_deref(), Some("service:vpn"));
    assert!(app.networks.is_empty());
    assert!(app.depends_on.contains_key("vpn"), "implicit dependency");
    assert_eq!(svc(&p, "sniffer").network_mode.as_deref(), Some("host"));
    assert_eq!(svc(&p, "isolated").network_mode.as_deref(), Some("none"));
    assert_eq!(
        start_order(&p),
        strings(&["isolated", "sniffer", "vpn", "app"])
    );
}

#[test]
fn runtime() {
    let p = load_example("runtime");
    let app = svc(&p, "app");
    assert_eq!(app.init, Some(true));
    assert!(app.read_only && app.stdin_open && app.tty);
    assert_eq!(app.user.as_deref(), Some("1000:1000"));
    assert_eq!(app.group_add, strings(&["audio"]));
    assert_eq!(app.working_dir.as_deref(), Some("/srv/app"));
    assert_eq!(app.hostname.as_deref(), Some("app-1"));
    assert_eq!(app.domainname.as_deref(), Some("example.internal"));
    assert_eq!(app.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(secs(app.stop_grace_period), Some(Duration::from_secs(90)));
    assert_eq!(app.restart.as_deref(), Some("on-failure:3"));
    assert_eq!(app.pull_policy.as_deref(), Some("missing"));
    assert_eq!(app.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(app.oom_score_adj, Some(-500));
    assert_eq!(app.labels["com.example.role"], "app");
    assert_eq!(app.labels["com.example.owner"], "ops");
    let plain = svc(&p, "plain");
    assert_eq!(plain.init, Some(false));
    assert_eq!(plain.restart.as_deref(), Some("no"));
}

#[test]
fn command_and_entrypoint() {
    let p = load_example("command-entrypoint");
    let cmd = |name: &str| svc(&p, name).command.clone();
    let entry = |name: &str| svc(&p, name).entrypoint.clone();
    assert_eq!(
        cmd("string-command"),
        Some(strings(&["echo", "hello world", "single quoted", "$HOME"]))
    );
    assert_eq!(cmd("list-command"), Some(strings(&["echo", "hello world"])));
    assert_eq!(
        entry("entrypoint-string"),
        Some(strings(&["/bin/sh", "-c"]))
    );
    assert_eq!(cmd("entrypoint-string"), Some(strings(&["echo from sh"])));
    assert_eq!(cmd("entrypoint-list"), Some(strings(&["echo", "$PATH"])));
    assert_eq!(entry("cleared-entrypoint"), Some(vec![]));
    assert_eq!(
        cmd("folded"),
        Some(strings(&["sh", "-c", "echo one && echo two"]))
    );
}

#[test]
fn logging() {
    let p = load_example("logging");
    let app = svc(&p, "app").logging.as_ref().expect("app logging");
    assert_eq!(app.driver, "json-file");
    let opts: BTreeMap<&str, &str> = app
        .options
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(opts["max-size"], "10m");
    assert_eq!(opts["max-file"], "5", "a YAML number becomes a string");
    assert_eq!(opts["tag"], "{{.Name}}/{{.ID}}");
    assert_eq!(
        svc(&p, "quiet").logging.as_ref().map(|l| l.driver.as_str()),
        Some("none")
    );
    let compact = svc(&p, "compact")
        .logging
        .as_ref()
        .expect("compact logging");
    assert_eq!(compact.driver, "local");
    assert_eq!(compact.options["max-size"], "20m");
}

#[test]
fn reset_tags() {
    let p = load_example("reset-tags");
    let app = svc(&p, "app");
    assert!(app.ports.is_empty(), "!reset [] dropped the ports");
    assert_eq!(app.command, None, "!reset null dropped the command");
    let keys: Vec<&str> = app.environment.keys().map(String::as_str).collect();
    assert_eq!(keys, ["C"], "!override replaced the environment");
    assert_eq!(app.volumes.len(), 1);
    assert!(ends_with(
        app.volumes[0].source.as_deref(),
        "reset-tags/scratch"
    ));
    assert_eq!(app.labels["com.example.kept"], "yes");
}

#[test]
fn optional_dependencies() {
    let p = load_example("optional-deps");
    assert_eq!(names(&p), ["app", "db"]);
    assert_eq!(start_order(&p), strings(&["db", "app"]));
    let db = &svc(&p, "app").depends_on["db"];
    assert!(db.restart && db.required);
    assert_eq!(db.condition, DependencyCondition::ServiceHealthy);

    let mut opts = options("optional-deps");
    opts.profiles = strings(&["monitoring"]);
    let p = load_opts("optional-deps", &opts).project;
    assert_eq!(start_order(&p), strings(&["db", "metrics", "app"]));
    assert!(!svc(&p, "app").depends_on["metrics"].required);
}

#[test]
fn wordpress() {
    let p = load_example("wordpress");
    assert_eq!(p.name, "blog");
    assert_eq!(start_order(&p), strings(&["db", "wordpress"]));
    assert_eq!(p.volumes["wp-content"].name, "blog_wp-content");
    assert_eq!(p.secrets["db_password"].name, "blog_db_password");
    assert_eq!(
        svc(&p, "db").command,
        Some(strings(&[
            "--transaction-isolation=READ-COMMITTED",
            "--log-bin=binlog",
            "--binlog-format=ROW"
        ]))
    );
    assert_eq!(port_list(svc(&p, "wordpress")), ["127.0.0.1|8093|80/tcp"]);
}

#[test]
fn build() {
    let p = load_example("build");
    let app = svc(&p, "app").build.as_ref().expect("app build");
    assert!(ends_with(Some(&app.context), "build/app"));
    assert_eq!(app.dockerfile.as_deref(), Some("Dockerfile"));
    assert_eq!(app.target.as_deref(), Some("runtime"));
    assert_eq!(app.args["BUSYBOX_VERSION"].as_deref(), Some("1.36"));
    assert_eq!(app.labels["com.example.built-by"], "berth");
    let tool = svc(&p, "tool").build.as_ref().expect("tool build");
    assert!(ends_with(Some(&tool.context), "examples/build"));
    assert!(tool
        .dockerfile_inline
        .as_deref()
        .is_some_and(|d| d.starts_with("FROM busybox")));
    assert_eq!(
        svc(&p, "tool").image.as_deref(),
        Some("example/build-tool:dev")
    );
}

#[test]
fn multi_file() {
    let mut opts = options("multi-file");
    opts.files = strings(&["compose.yaml", "compose.prod.yaml"]);
    let p = load_opts("multi-file", &opts).project;
    assert_eq!(p.files.len(), 2);
    let api = svc(&p, "api");
    assert_eq!(api.image.as_deref(), Some("busybox:1.37"));
    assert_eq!(env(api, "MODE"), Some("production"));
    assert_eq!(api.restart.as_deref(), Some("always"));
    assert_eq!(api.replicas(), 2);
    assert_eq!(port_list(api), ["|8095|8000/tcp"]);
    assert_eq!(start_order(&p), strings(&["queue", "api"]));

    // Without -f only compose.yaml is read (compose.prod.yaml is not an override name).
    let p = load_example("multi-file");
    assert_eq!(env(svc(&p, "api"), "MODE"), Some("development"));
    assert!(svc(&p, "api").depends_on.is_empty());
}
