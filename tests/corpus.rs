//! Loads every stack under `examples/` through `berth::stack::load`, as `berth config` would
//! in that directory, and checks the canonical model example by example.
//!
//! The environment is a fixed map (never the real one), so results do not depend on the
//! machine running the tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth::stack::model::{DependencyCondition, Port, Service, VolumeKind};
use berth::stack::{load, LoadOptions, Loaded, Project};

#[path = "corpus/settings.rs"]
mod settings;

const MIB: u64 = 1024 * 1024;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn options(example: &str) -> LoadOptions {
    let env = [
        ("HOME", "/home/tester"),
        ("USER", "tester"),
        ("PATH", "/usr/bin:/bin"),
    ];
    LoadOptions {
        interpolate: true,
        working_dir: examples_dir().join(example),
        process_env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn load_opts(example: &str, opts: &LoadOptions) -> Loaded {
    match load(opts) {
        Ok(loaded) => loaded,
        Err(e) => panic!("examples/{example} failed to load: {e}"),
    }
}

fn load_example(example: &str) -> Project {
    load_opts(example, &options(example)).project
}

fn svc<'a>(p: &'a Project, name: &str) -> &'a Service {
    p.services
        .get(name)
        .unwrap_or_else(|| panic!("no service `{name}`; have {:?}", names(p)))
}

fn names(p: &Project) -> Vec<&str> {
    p.services.keys().map(String::as_str).collect()
}

fn env<'a>(s: &'a Service, key: &str) -> Option<&'a str> {
    s.environment.get(key).and_then(|v| v.as_deref())
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn start_order(p: &Project) -> Vec<String> {
    p.dependency_graph()
        .expect("dependency graph")
        .start_order()
}

/// `host_ip|published|target/protocol`, compact enough to compare whole port lists.
fn port(p: &Port) -> String {
    format!(
        "{}|{}|{}/{}",
        p.host_ip.as_deref().unwrap_or(""),
        p.published.as_deref().unwrap_or(""),
        p.target,
        p.protocol
    )
}

fn port_list(s: &Service) -> Vec<String> {
    s.ports.iter().map(port).collect()
}

fn secs(d: Option<berth::stack::duration::GoDuration>) -> Option<Duration> {
    d.map(|d| d.0)
}

fn ends_with(path: Option<&str>, suffix: &str) -> bool {
    path.is_some_and(|p| Path::new(p).is_absolute() && Path::new(p).ends_with(suffix))
}

fn example_names() -> Vec<String> {
    let mut all: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("examples/ exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("compose.yaml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    all.sort();
    all
}

#[test]
fn every_example_loads_serializes_and_has_a_graph() {
    let all = example_names();
    assert!(all.len() >= 20, "only {} examples", all.len());
    let mut failures = Vec::new();
    for name in &all {
        let text = std::fs::read_to_string(examples_dir().join(name).join("compose.yaml"))
            .expect("read compose.yaml");
        assert!(
            text.starts_with("# "),
            "examples/{name}/compose.yaml must open with a comment saying what it shows"
        );
        let mut opts = options(name);
        if name == "multi-file" {
            opts.files = strings(&["compose.yaml", "compose.prod.yaml"]);
        }
        match load(&opts) {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok(loaded) => {
                let p = &loaded.project;
                if p.services.is_empty() {
                    failures.push(format!("{name}: no services"));
                }
                if let Err(e) = p.dependency_graph() {
                    failures.push(format!("{name}: graph: {e}"));
                }
                match serde_yaml::to_string(p) {
                    Ok(yaml) if yaml.contains("services:") => {}
                    Ok(yaml) => failures.push(format!("{name}: config output: {yaml}")),
                    Err(e) => failures.push(format!("{name}: serialize: {e}")),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "examples failing:\n{}",
        failures.join("\n")
    );
}

#[test]
fn hello() {
    let p = load_example("hello");
    assert_eq!(p.name, "hello");
    let web = svc(&p, "web");
    assert_eq!(web.image.as_deref(), Some("busybox:1.36"));
    assert_eq!(port_list(web), ["127.0.0.1|8080|8080/tcp"]);
    assert_eq!(web.volumes.len(), 1);
    assert_eq!(web.volumes[0].kind, VolumeKind::Bind);
    assert!(ends_with(web.volumes[0].source.as_deref(), "hello/site"));
    assert!(web.volumes[0].read_only);
    let hc = web.healthcheck.as_ref().expect("web healthcheck");
    assert_eq!(hc.test[0], "CMD");
    assert_eq!(secs(hc.interval), Some(Duration::from_secs(2)));
    let probe = svc(&p, "probe");
    assert_eq!(
        probe.depends_on["web"].condition,
        DependencyCondition::ServiceHealthy
    );
    assert_eq!(probe.command.as_ref().map(Vec::len), Some(3));
    assert!(examples_dir().join("hello/site/index.html").is_file());

    let graph = p.dependency_graph().unwrap();
    assert_eq!(graph.start_order(), strings(&["web", "probe"]));
    let mut sched = graph.start_scheduler();
    assert_eq!(sched.take_ready(), strings(&["web"]));
    sched.started("web");
    assert!(
        sched.take_ready().is_empty(),
        "probe waits for web to be healthy"
    );
    sched.healthy("web");
    assert_eq!(sched.take_ready(), strings(&["probe"]));
}

#[test]
fn web_db_cache() {
    let p = load_example("web-db-cache");
    assert_eq!(p.name, "shop");
    assert_eq!(names(&p), ["app", "cache", "db", "proxy"]);
    assert_eq!(start_order(&p), strings(&["cache", "db", "app", "proxy"]));
    assert_eq!(p.volumes["db-data"].name, "shop_db-data");
    assert_eq!(p.volumes["cache-data"].name, "shop_cache-data");
    assert_eq!(p.networks["default"].name, "shop_default");
    assert!(svc(&p, "app").networks.contains_key("default"));
    let cache = svc(&p, "cache");
    assert_eq!(
        cache.command,
        Some(strings(&[
            "redis-server",
            "--appendonly",
            "yes",
            "--maxmemory",
            "64mb"
        ]))
    );
    let app = svc(&p, "app");
    assert_eq!(
        app.depends_on["db"].condition,
        DependencyCondition::ServiceHealthy
    );
    assert_eq!(
        app.depends_on["cache"].condition,
        DependencyCondition::ServiceStarted
    );
    assert!(app.depends_on["db"].required);
    assert_eq!(env(app, "REDIS_URL"), Some("redis://cache:6379/0"));
    let proxy = svc(&p, "proxy");
    assert!(ends_with(
        proxy.volumes[0].source.as_deref(),
        "web-db-cache/nginx.conf"
    ));
    assert_eq!(proxy.restart.as_deref(), Some("unless-stopped"));
}

#[test]
fn profiles() {
    let p = load_example("profiles");
    assert_eq!(names(&p), ["app", "db"]);
    let disabled: Vec<&str> = p.disabled_services.keys().map(String::as_str).collect();
    assert_eq!(disabled, ["adminer", "migrate", "shell"]);

    let mut opts = options("profiles");
    opts.profiles = strings(&["debug"]);
    let p = load_opts("profiles", &opts).project;
    assert_eq!(names(&p), ["adminer", "app", "db", "shell"]);
    assert_eq!(port_list(svc(&p, "adminer")), ["|8082|8080/tcp"]);

    let mut opts = options("profiles");
    opts.process_env
        .insert("COMPOSE_PROFILES".into(), "tools".into());
    let p = load_opts("profiles", &opts).project;
    assert_eq!(names(&p), ["app", "db", "migrate"]);
}

#[test]
fn overrides() {
    let p = load_example("overrides");
    assert_eq!(
        p.files.len(),
        2,
        "compose.override.yaml is picked up: {:?}",
        p.files
    );
    let web = svc(&p, "web");
    assert_eq!(web.image.as_deref(), Some("nginx:1.27-alpine"));
    assert_eq!(env(web, "LOG_LEVEL"), Some("debug"));
    assert_eq!(env(web, "TZ"), Some("UTC"));
    assert_eq!(env(web, "DEBUG"), Some("1"));
    assert_eq!(port_list(web), ["|8083|80/tcp", "127.0.0.1|9083|8080/tcp"]);
    assert_eq!(web.labels["com.example.tier"], "frontend");
    assert_eq!(web.labels["com.example.env"], "dev");
    assert_eq!(
        web.volumes.len(),
        1,
        "same target: the override replaces the mount"
    );
    assert!(ends_with(
        web.volumes[0].source.as_deref(),
        "overrides/html-dev"
    ));
    let worker = svc(&p, "worker");
    assert_eq!(
        worker.image.as_deref(),
        Some("registry.example.com/shop/worker:stable")
    );
    assert_eq!(worker.command.as_ref().map(|c| c[0].as_str()), Some("sh"));
    assert_eq!(env(worker, "QUEUE"), Some("default"));
}

#[test]
fn anchors() {
    let p = load_example("anchors");
    assert_eq!(names(&p), ["api", "reporter", "scheduler", "worker"]);
    let api = svc(&p, "api");
    assert_eq!(env(api, "ROLE"), Some("api"));
    assert_eq!(env(api, "TZ"), Some("UTC"));
    assert_eq!(env(api, "LOG_FORMAT"), Some("json"));
    assert_eq!(api.restart.as_deref(), Some("unless-stopped"));
    let worker = svc(&p, "worker");
    assert_eq!(env(worker, "ROLE"), Some("generic"));
    assert_eq!(worker.image.as_deref(), Some("busybox:1.36"));
    let logging = worker.logging.as_ref().expect("logging from the anchor");
    assert_eq!(logging.driver, "json-file");
    assert_eq!(logging.options["max-size"], "10m");
    assert_eq!(logging.options["max-file"], "3");
    let scheduler = svc(&p, "scheduler");
    assert_eq!(scheduler.restart.as_deref(), Some("always"));
    assert_eq!(scheduler.labels["com.example.team"], "platform");
    assert_eq!(scheduler.labels["com.example.role"], "cron");
    assert_eq!(svc(&p, "reporter").labels.len(), 2);
}

#[test]
fn healthchecks() {
    let p = load_example("healthchecks");
    let db = svc(&p, "db");
    let hc = db.healthcheck.as_ref().expect("db healthcheck");
    assert_eq!(hc.test, strings(&["CMD-SHELL", "pg_isready -U postgres"]));
    assert_eq!(secs(hc.interval), Some(Duration::from_secs(10)));
    assert_eq!(secs(hc.timeout), Some(Duration::from_secs(5)));
    assert_eq!(hc.retries, Some(5));
    assert_eq!(secs(hc.start_period), Some(Duration::from_secs(30)));
    assert_eq!(secs(hc.start_interval), Some(Duration::from_secs(2)));
    let api = svc(&p, "api");
    let hc = api.healthcheck.as_ref().expect("api healthcheck");
    assert_eq!(
        hc.test,
        strings(&[
            "CMD-SHELL",
            "wget -q -O /dev/null http://127.0.0.1:8000/ || exit 1"
        ])
    );
    assert_eq!(secs(hc.interval), Some(Duration::from_secs(90)));
    assert_eq!(secs(hc.timeout), Some(Duration::from_millis(500)));
    assert_eq!(
        api.depends_on["migrate"].condition,
        DependencyCondition::ServiceCompletedSuccessfully
    );
    assert!(api.depends_on["db"].restart);
    assert!(
        svc(&p, "legacy")
            .healthcheck
            .as_ref()
            .expect("legacy")
            .disable
    );
    let noop = svc(&p, "noop").healthcheck.as_ref().expect("noop");
    assert!(noop.disable || noop.test == strings(&["NONE"]));
    assert_eq!(
        start_order(&p),
        strings(&["db", "legacy", "migrate", "api", "noop", "web"])
    );

    // The migration completing releases api only once db is healthy too.
    let graph = p.dependency_graph().unwrap();
    let mut sched = graph.start_scheduler();
    assert_eq!(sched.take_ready(), strings(&["db", "legacy", "noop"]));
    sched.healthy("db");
    assert_eq!(sched.take_ready(), strings(&["migrate"]));
    sched.started("migrate");
    assert!(sched.take_ready().is_empty());
    sched.completed_successfully("migrate");
    assert_eq!(sched.take_ready(), strings(&["api"]));
}

#[test]
fn interpolation() {
    let p = load_example("interpolation");
    let web = svc(&p, "web");
    assert_eq!(web.image.as_deref(), Some("nginx:1.27-alpine"));
    assert_eq!(web.container_name.as_deref(), Some("demo-web"));
    assert_eq!(
        port_list(web),
        ["|8080|80/tcp"],
        "${{PORT:-8080}} became 8080"
    );
    assert_eq!(web.labels["com.example.port"], "8080");
    assert_eq!(env(web, "GREETING"), Some("hello from demo"));
    assert_eq!(env(web, "EMPTY_OR_DEFAULT"), Some("fallback"));
    assert_eq!(env(web, "EMPTY_KEPT"), Some(""));
    assert_eq!(env(web, "UNSET_DEFAULT"), Some("unset"));
    assert_eq!(env(web, "NESTED"), Some("demo-nested"));
    assert_eq!(env(web, "LITERAL"), Some("price: $5"));
    assert_eq!(env(web, "SHELL_USER"), Some("tester"));
    assert_eq!(env(web, "BRACELESS"), Some("demo"));

    let mut opts = options("interpolation");
    opts.process_env.insert("PORT".into(), "9090".into());
    opts.process_env
        .insert("APP_NAME".into(), "shell-wins".into());
    let p = load_opts("interpolation", &opts).project;
    let web = svc(&p, "web");
    assert_eq!(port_list(web), ["|9090|80/tcp"]);
    assert_eq!(web.container_name.as_deref(), Some("shell-wins-web"));
}

#[test]
fn extends_same_file() {
    let p = load_example("extends-same-file");
    assert_eq!(names(&p), ["api", "base", "worker"]);
    let api = svc(&p, "api");
    assert_eq!(api.image.as_deref(), Some("busybox:1.36"));
    assert_eq!(env(api, "LOG_LEVEL"), Some("debug"));
    assert_eq!(env(api, "TZ"), Some("UTC"));
    assert_eq!(api.command, svc(&p, "base").command);
    assert_eq!(port_list(api), ["|8091|8000/tcp"]);
    assert_eq!(api.restart.as_deref(), Some("unless-stopped"));
    let worker = svc(&p, "worker");
    assert_eq!(
        worker.command,
        Some(strings(&["sh", "-c", "echo worker; sleep 3600"]))
    );
    assert_eq!(worker.labels["com.example.stack"], "extends-demo");
    assert_eq!(worker.labels["com.example.role"], "worker");
}

#[test]
fn extends_other_file() {
    let p = load_example("extends-other-file");
    assert_eq!(names(&p), ["jobs", "web"], "only services of this file");
    let web = svc(&p, "web");
    assert_eq!(web.image.as_deref(), Some("busybox:1.36"));
    assert_eq!(web.command.as_ref().map(|c| c[0].as_str()), Some("httpd"));
    assert_eq!(port_list(web), ["|8092|8080/tcp"]);
    assert!(
        ends_with(
            web.volumes[0].source.as_deref(),
            "extends-other-file/shared/config"
        ),
        "relative to the extended file: {:?}",
        web.volumes[0].source
    );
    assert_eq!(
        env(web, "APP_MODE"),
        Some("shared"),
        "its env_file, from shared/"
    );
    assert_eq!(env(web, "ROLE"), Some("web"));
    assert_eq!(env(svc(&p, "jobs"), "ROLE"), Some("jobs"));
}

#[test]
fn include() {
    let p = load_example("include");
    assert_eq!(names(&p), ["app", "cache", "db"]);
    let db = svc(&p, "db");
    assert_eq!(
        db.image.as_deref(),
        Some("postgres:15-alpine"),
        "db/.env applies"
    );
    let init = db
        .volumes
        .iter()
        .find(|v| v.kind == VolumeKind::Bind)
        .expect("initdb bind");
    assert!(ends_with(init.source.as_deref(), "include/db/initdb"));
    assert_eq!(p.volumes["pgdata"].name, "include_pgdata");
    assert_eq!(start_order(&p), strings(&["cache", "db", "app"]));
}
