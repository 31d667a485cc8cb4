use super::validate_project;
use crate::stack::model::*;
use crate::stack::{Positions, StackError, Warning};

fn svc() -> Service {
    Service {
        image: Some("alpine".into()),
        ..Default::default()
    }
}

fn project(services: Vec<(&str, Service)>) -> Project {
    Project {
        name: "p".into(),
        services: services
            .into_iter()
            .map(|(n, mut s)| {
                s.name = n.to_string();
                (n.to_string(), s)
            })
            .collect(),
        ..Default::default()
    }
}

fn check(p: &Project) -> Result<Vec<Warning>, StackError> {
    validate_project(p, &Positions::default())
}

/// The error's text, asserting it names `path`.
fn err_at(p: &Project, path: &str) -> String {
    let e = check(p).expect_err("expected an error");
    let text = e.to_string();
    assert!(text.starts_with(&format!("{path}: ")), "{text}");
    text
}

fn dep(required: bool) -> Dependency {
    Dependency {
        condition: DependencyCondition::ServiceStarted,
        required,
        restart: false,
    }
}

fn port(published: Option<&str>, target: u16, ip: Option<&str>, proto: &str) -> Port {
    Port {
        name: None,
        mode: "ingress".into(),
        host_ip: ip.map(str::to_string),
        target,
        published: published.map(str::to_string),
        protocol: proto.into(),
        app_protocol: None,
    }
}

fn named_volume(source: Option<&str>, target: &str) -> ServiceVolume {
    ServiceVolume {
        kind: VolumeKind::Volume,
        source: source.map(str::to_string),
        target: target.into(),
        read_only: false,
        bind: None,
        volume: Some(VolumeOptions::default()),
        tmpfs: None,
    }
}

fn file_ref(source: &str) -> FileReference {
    FileReference {
        source: source.into(),
        target: format!("/run/secrets/{source}"),
        uid: None,
        gid: None,
        mode: None,
    }
}

#[test]
fn a_consistent_project_passes_without_warnings() {
    let mut web = svc();
    web.depends_on.insert("db".into(), dep(true));
    web.links.push("db:database".into());
    web.volumes.push(named_volume(Some("data"), "/data"));
    web.volumes.push(named_volume(None, "/cache"));
    web.networks.insert("front".into(), None);
    web.secrets.push(file_ref("token"));
    web.configs.push(file_ref("conf"));
    web.ports.push(port(Some("8080"), 80, None, "tcp"));
    web.hostname = Some("web".into());
    web.dns.push("1.1.1.1".into());
    web.restart = Some("on-failure:3".into());
    web.stop_signal = Some("SIGINT".into());
    let mut db = svc();
    db.volumes_from.push("web:ro".into());
    db.volumes_from.push("container:legacy".into());
    db.ports.push(port(Some("8080"), 80, None, "udp"));
    db.container_name = Some("my-db".into());
    let mut p = project(vec![("web", web), ("db", db)]);
    p.volumes.insert(
        "data".into(),
        Volume {
            name: "p_data".into(),
            ..Default::default()
        },
    );
    p.networks.insert("front".into(), Network::default());
    p.secrets.insert("token".into(), FileObject::default());
    p.configs.insert("conf".into(), FileObject::default());
    assert_eq!(check(&p).unwrap(), vec![]);
}

#[test]
fn bad_section_keys_show_the_pattern() {
    let p = project(vec![("web app", svc())]);
    let e = err_at(&p, "services.web app");
    assert!(e.contains("^[a-zA-Z0-9._-]+$"), "{e}");
    let mut p = project(vec![("web", svc())]);
    p.volumes.insert("my/data".into(), Volume::default());
    let e = err_at(&p, "volumes.my/data");
    assert!(e.contains("invalid volume name"), "{e}");
    let mut p = project(vec![]);
    p.networks.insert("a b".into(), Network::default());
    err_at(&p, "networks.a b");
    let mut p = project(vec![]);
    p.secrets.insert("s!".into(), FileObject::default());
    err_at(&p, "secrets.s!");
}

#[test]
fn service_without_image_or_build() {
    let p = project(vec![("web", Service::default())]);
    let e = err_at(&p, "services.web");
    assert!(e.contains("neither an image nor a build context"), "{e}");
    let mut s = Service {
        build: Some(Build {
            context: "/src".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(check(&project(vec![("web", s.clone())])).is_ok());
    s.build.as_mut().unwrap().dockerfile = Some("Dockerfile".into());
    s.build.as_mut().unwrap().dockerfile_inline = Some("FROM x".into());
    let e = err_at(&project(vec![("web", s)]), "services.web.build");
    assert!(e.contains("dockerfile_inline"), "{e}");
}

#[test]
fn depends_on_undefined_and_disabled_services() {
    let mut web = svc();
    web.depends_on.insert("db".into(), dep(true));
    let p = project(vec![("web", web.clone())]);
    let e = err_at(&p, "services.web.depends_on.db");
    assert!(e.contains("no service is named `db`"), "{e}");
    assert!(matches!(check(&p), Err(StackError::Undefined { .. })));

    // A typo gets a suggestion.
    let p = project(vec![("web", web.clone()), ("dbx", svc())]);
    let e = err_at(&p, "services.web.depends_on.db");
    assert!(e.contains("did you mean `dbx`"), "{e}");

    // A disabled service: say which profile enables it.
    let mut p = project(vec![("web", web.clone())]);
    let mut db = svc();
    db.profiles = vec!["debug".into(), "dev".into()];
    p.disabled_services.insert("db".into(), db);
    let e = err_at(&p, "services.web.depends_on.db");
    assert!(e.contains("profiles (debug, dev)"), "{e}");
    assert!(e.contains("--profile debug"), "{e}");

    // ...unless the dependency is optional.
    web.depends_on.insert("db".into(), dep(false));
    p.services.insert("web".into(), web);
    assert!(check(&p).is_ok());
}

#[test]
fn links_volumes_from_and_service_modes() {
    let mut web = svc();
    web.links.push("cache:c".into());
    let e = err_at(&project(vec![("web", web)]), "services.web.links[0]");
    assert!(e.contains("links to `cache`"), "{e}");

    let mut web = svc();
    web.volumes_from.push("store".into());
    let e = err_at(&project(vec![("web", web)]), "services.web.volumes_from[0]");
    assert!(e.contains("`store`"), "{e}");
    let mut web = svc();
    web.volumes_from.push("other:rx".into());
    let e = err_at(
        &project(vec![("web", web), ("other", svc())]),
        "services.web.volumes_from[0]",
    );
    assert!(e.contains("`rx`"), "{e}");

    let mut web = svc();
    web.network_mode = Some("service:vpn".into());
    let e = err_at(&project(vec![("web", web)]), "services.web.network_mode");
    assert!(
        e.contains("service:vpn") && e.contains("no service is named `vpn`"),
        "{e}"
    );
    let mut web = svc();
    web.ipc = Some("service:shm".into());
    err_at(&project(vec![("web", web)]), "services.web.ipc");
    let mut web = svc();
    web.pid = Some("service:".into());
    let e = err_at(&project(vec![("web", web)]), "services.web.pid");
    assert!(e.contains("names no service"), "{e}");
}

#[test]
fn network_mode_values() {
    for ok in ["none", "host", "bridge", "container:abc"] {
        let mut web = svc();
        web.network_mode = Some(ok.into());
        assert_eq!(check(&project(vec![("web", web)])).unwrap(), vec![], "{ok}");
    }
    let mut web = svc();
    web.network_mode = Some("container:".into());
    err_at(&project(vec![("web", web)]), "services.web.network_mode");
    let mut web = svc();
    web.network_mode = Some("mynet".into());
    let warnings = check(&project(vec![("web", web.clone())])).unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].at.path, "services.web.network_mode");
    assert!(warnings[0].message.contains("`mynet`"));
    web.networks.insert("default".into(), None);
    let e = err_at(&project(vec![("web", web)]), "services.web.network_mode");
    assert!(e.contains("mutually exclusive"), "{e}");
}

#[test]
fn undefined_top_level_resources() {
    let mut web = svc();
    web.volumes.push(named_volume(Some("dta"), "/data"));
    let mut p = project(vec![("web", web)]);
    let e = err_at(&p, "services.web.volumes[0]");
    assert!(
        e.contains("volume `dta`") && e.contains("add `dta:`"),
        "{e}"
    );
    p.volumes.insert("data".into(), Volume::default());
    let e = err_at(&p, "services.web.volumes[0]");
    assert!(e.contains("did you mean `data`"), "{e}");

    let mut web = svc();
    web.networks.insert("back".into(), None);
    let e = err_at(&project(vec![("web", web)]), "services.web.networks.back");
    assert!(e.contains("network `back`"), "{e}");

    let mut web = svc();
    web.secrets.push(file_ref("key"));
    let e = err_at(&project(vec![("web", web)]), "services.web.secrets[0]");
    assert!(e.contains("secret `key`"), "{e}");

    let mut web = svc();
    web.configs.push(file_ref("conf"));
    let e = err_at(&project(vec![("web", web)]), "services.web.configs[0]");
    assert!(e.contains("config `conf`"), "{e}");
}

#[test]
fn container_names() {
    let mut a = svc();
    a.container_name = Some("shared".into());
    let b = a.clone();
    let e = err_at(
        &project(vec![("a", a.clone()), ("b", b)]),
        "services.b.container_name",
    );
    assert!(e.contains("already used by service `a`"), "{e}");

    let mut scaled = a.clone();
    scaled.scale = Some(2);
    let e = err_at(&project(vec![("a", scaled)]), "services.a.container_name");
    assert!(e.contains("2 replicas"), "{e}");

    a.container_name = Some("_bad".into());
    let e = err_at(&project(vec![("a", a)]), "services.a.container_name");
    assert!(e.contains("^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$"), "{e}");
}

#[test]
fn published_port_collisions() {
    let with = |ports: Vec<Port>| {
        let mut s = svc();
        s.ports = ports;
        s
    };
    let p = project(vec![
        ("a", with(vec![port(Some("8080"), 80, None, "tcp")])),
        (
            "b",
            with(vec![port(Some("8080"), 81, Some("127.0.0.1"), "tcp")]),
        ),
    ]);
    let e = err_at(&p, "services.b.ports");
    assert!(
        e.contains("services `a` and `b`") && e.contains("8080/tcp"),
        "{e}"
    );

    // Distinct addresses, protocols or dynamic ranges do not collide.
    let p = project(vec![
        (
            "a",
            with(vec![port(Some("8080"), 80, Some("127.0.0.1"), "tcp")]),
        ),
        (
            "b",
            with(vec![port(Some("8080"), 80, Some("127.0.0.2"), "tcp")]),
        ),
        ("c", with(vec![port(Some("8080"), 80, Some("::1"), "udp")])),
        ("d", with(vec![port(Some("8080-8090"), 80, None, "tcp")])),
        (
            "e",
            with(vec![port(Some("8080"), 80, Some("0.0.0.0"), "udp")]),
        ),
    ]);
    assert!(check(&p).is_ok());
    let p = project(vec![
        (
            "a",
            with(vec![port(Some("53"), 53, Some("0.0.0.0"), "udp")]),
        ),
        (
            "b",
            with(vec![port(Some("53"), 53, Some("10.0.0.1"), "udp")]),
        ),
    ]);
    let e = err_at(&p, "services.b.ports");
    assert!(e.contains("53/udp on 10.0.0.1"), "{e}");

    // One service publishing one host port to two container ports.
    let p = project(vec![(
        "a",
        with(vec![
            port(Some("8080"), 80, None, "tcp"),
            port(Some("8080"), 81, None, "tcp"),
        ]),
    )]);
    let e = err_at(&p, "services.a.ports");
    assert!(e.contains("twice"), "{e}");

    // Replicas cannot share a fixed host port: Compose lets it through, so only a warning.
    let mut scaled = with(vec![port(Some("8080"), 80, None, "tcp")]);
    scaled.scale = Some(3);
    let warnings = check(&project(vec![("a", scaled)])).unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].message.contains("3 replicas"), "{:?}", warnings);

    // Disabled services are not started, so they cannot collide.
    let mut p = project(vec![("a", with(vec![port(Some("80"), 80, None, "tcp")]))]);
    p.disabled_services
        .insert("b".into(), with(vec![port(Some("80"), 80, None, "tcp")]));
    assert!(check(&p).is_ok());
}

#[test]
fn hostnames_extra_hosts_and_dns() {
    let mut s = svc();
    s.hostname = Some("web\nevil".into());
    let e = err_at(&project(vec![("web", s)]), "services.web.hostname");
    assert!(e.contains("control character"), "{e}");
    let mut s = svc();
    s.domainname = Some("my_domain".into());
    assert_eq!(check(&project(vec![("web", s.clone())])).unwrap(), vec![]);
    s.domainname = Some("example.com\r".into());
    let e = err_at(&project(vec![("web", s)]), "services.web.domainname");
    assert!(e.contains("control character"), "{e}");

    let mut s = svc();
    s.extra_hosts.push(ExtraHost {
        host: "db".into(),
        ip: "10.0.0.1\n127.0.0.1 evil".into(),
    });
    let e = err_at(&project(vec![("web", s)]), "services.web.extra_hosts[0]");
    assert!(e.contains("control character"), "{e}");
    let mut s = svc();
    s.build = Some(Build {
        context: "/src".into(),
        extra_hosts: vec![ExtraHost {
            host: "db".into(),
            ip: "nope".into(),
        }],
        ..Default::default()
    });
    let e = err_at(
        &project(vec![("web", s)]),
        "services.web.build.extra_hosts[0]",
    );
    assert!(e.contains("`nope`"), "{e}");

    let mut s = svc();
    s.dns = vec!["8.8.8.8".into(), "dns.google".into()];
    let e = err_at(&project(vec![("web", s)]), "services.web.dns[1]");
    assert!(e.contains("`dns.google` is not an IP"), "{e}");
    let mut s = svc();
    s.dns_search = vec!["a\tb".into()];
    err_at(&project(vec![("web", s)]), "services.web.dns_search[0]");
}

#[test]
fn runtime_settings() {
    let mut s = svc();
    s.restart = Some("sometimes".into());
    let e = err_at(&project(vec![("web", s)]), "services.web.restart");
    assert!(e.contains("`sometimes`"), "{e}");
    let mut s = svc();
    s.stop_signal = Some("SIGNOPE".into());
    err_at(&project(vec![("web", s)]), "services.web.stop_signal");
    let mut s = svc();
    s.healthcheck = Some(Healthcheck {
        test: vec!["curl".into(), "-f".into()],
        interval: None,
        timeout: None,
        retries: None,
        start_period: None,
        start_interval: None,
        disable: false,
    });
    let e = err_at(&project(vec![("web", s)]), "services.web.healthcheck.test");
    assert!(e.contains("`curl`"), "{e}");
    let mut s = svc();
    s.devices.push(Device {
        source: "/dev/a".into(),
        target: "/dev/a".into(),
        permissions: "rwx".into(),
    });
    err_at(&project(vec![("web", s)]), "services.web.devices[0]");
    let mut s = svc();
    s.ulimits
        .insert("nofile".into(), Ulimit { soft: 10, hard: 5 });
    err_at(&project(vec![("web", s)]), "services.web.ulimits.nofile");
}

#[test]
fn settings_that_disagree_with_deploy() {
    let mut s = svc();
    s.mem_limit = Some(1 << 20);
    s.deploy = Some(Deploy {
        resources: Some(Resources {
            limits: Some(ResourceSpec {
                memory: Some(2 << 20),
                ..Default::default()
            }),
            reservations: None,
        }),
        ..Default::default()
    });
    let e = err_at(&project(vec![("web", s.clone())]), "services.web.mem_limit");
    assert!(e.contains("deploy.resources.limits.memory"), "{e}");
    s.mem_limit = Some(2 << 20);
    assert!(check(&project(vec![("web", s.clone())])).is_ok());
    s.scale = Some(2);
    s.deploy.as_mut().unwrap().replicas = Some(3);
    err_at(&project(vec![("web", s)]), "services.web.scale");
}

#[test]
fn volume_names_the_engine_refuses_warn() {
    let mut p = project(vec![]);
    p.volumes.insert(
        "data".into(),
        Volume {
            name: "_data".into(),
            ..Default::default()
        },
    );
    let w = check(&p).unwrap();
    assert_eq!(w[0].at.path, "volumes.data.name");
    p.volumes.get_mut("data").unwrap().external = true;
    assert!(check(&p).unwrap().is_empty());
}

#[test]
fn errors_carry_the_file_location() {
    let text = "services:\n  web:\n    image: x\n    depends_on:\n      db:\n        condition: service_started\n";
    let mut positions = Positions::default();
    positions.push(crate::stack::positions::PositionIndex::build(
        "compose.yaml",
        text,
    ));
    let mut web = svc();
    web.depends_on.insert("db".into(), dep(true));
    let e = validate_project(&project(vec![("web", web)]), &positions).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("compose.yaml:5:7: services.web.depends_on.db: "),
        "{text}"
    );
}
