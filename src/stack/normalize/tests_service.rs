//! Normalization tests: one service key at a time.

use std::time::Duration;

use super::tests::{load, load_err, svc};
use crate::stack::duration::GoDuration;
use crate::stack::model::{
    BindOptions, Device, ExtraHost, FileReference, Port, ServiceVolume, TmpfsOptions, Ulimit,
    VolumeKind,
};

fn one(body: &str) -> crate::stack::model::Service {
    let p = load(&format!("services:\n  s:\n    image: x\n{body}"));
    svc(&p, "s").clone()
}

fn err(body: &str) -> String {
    load_err(&format!("services:\n  s:\n    image: x\n{body}"))
}

#[test]
fn ports_short_numbers_and_long() {
    let s = one(
        "    ports:\n      - 80\n      - '8080:81/udp'\n      - target: 443\n        published: '8443'\n        \
         host_ip: 127.0.0.1\n        name: https\n      - target: '53'\n        protocol: UDP\n        mode: host\n",
    );
    assert_eq!(s.ports.len(), 4);
    assert_eq!(s.ports[0].target, 80);
    assert_eq!(s.ports[0].published, None);
    assert_eq!(
        (s.ports[1].target, s.ports[1].published.as_deref()),
        (81, Some("8080"))
    );
    assert_eq!(s.ports[1].protocol, "udp");
    assert_eq!(
        s.ports[2],
        Port {
            name: Some("https".into()),
            mode: "ingress".into(),
            host_ip: Some("127.0.0.1".into()),
            target: 443,
            published: Some("8443".into()),
            protocol: "tcp".into(),
            app_protocol: None,
        }
    );
    assert_eq!(
        (s.ports[3].target, s.ports[3].protocol.as_str()),
        (53, "udp")
    );
    assert_eq!(s.ports[3].mode, "host");
}

#[test]
fn port_errors_name_the_entry() {
    let e = err("    ports:\n      - target: 0\n");
    assert!(e.contains("services.s.ports[0].target"), "{e}");
    let e = err("    ports:\n      - target: 70000\n");
    assert!(
        e.contains("services.s.ports[0].target") && e.contains("65535"),
        "{e}"
    );
    let e = err("    ports:\n      - published: 80\n");
    assert!(
        e.contains("services.s.ports[0]") && e.contains("`target`"),
        "{e}"
    );
    let e = err("    ports:\n      - target: 80\n        published: 9000-8000\n");
    assert!(e.contains("services.s.ports[0].published"), "{e}");
    let e = err("    ports:\n      - '80:80:80:80/tcp'\n");
    assert!(e.contains("services.s.ports[0]"), "{e}");
}

#[test]
fn volumes_short_and_long() {
    let s = one(
        "    volumes:\n      - data:/var/lib/data:ro\n      - type: bind\n        source: /host\n        \
         target: /in\n        bind: {propagation: rshared, selinux: z}\n      - type: volume\n        \
         source: cache\n        target: /cache\n        volume: {nocopy: true, subpath: sub}\n      \
         - type: tmpfs\n        target: /tmp\n        tmpfs: {size: 64m, mode: '1777'}\n      \
         - type: bind\n        source: /b\n        target: /c\n        read_only: 'yes'\n",
    );
    assert_eq!(s.volumes.len(), 5);
    assert_eq!(s.volumes[0].kind, VolumeKind::Volume);
    assert_eq!(s.volumes[0].source.as_deref(), Some("data"));
    assert!(s.volumes[0].read_only);
    assert_eq!(
        s.volumes[1].bind,
        Some(BindOptions {
            propagation: Some("rshared".into()),
            create_host_path: false,
            selinux: Some("z".into()),
        })
    );
    let v = s.volumes[2].volume.as_ref().unwrap();
    assert!(v.nocopy);
    assert_eq!(v.subpath.as_deref(), Some("sub"));
    assert_eq!(
        s.volumes[3],
        ServiceVolume {
            kind: VolumeKind::Tmpfs,
            source: None,
            target: "/tmp".into(),
            read_only: false,
            bind: None,
            volume: None,
            tmpfs: Some(TmpfsOptions {
                size: Some(64 * 1024 * 1024),
                mode: Some(0o1777),
            }),
        }
    );
    assert!(s.volumes[4].read_only);
    assert_eq!(s.volumes[4].bind, None);
}

#[test]
fn volume_errors_name_the_entry() {
    let e = err("    volumes:\n      - type: bind\n        target: /x\n");
    assert!(
        e.contains("services.s.volumes[0]") && e.contains("`source`"),
        "{e}"
    );
    let e = err("    volumes:\n      - type: volume\n        source: v\n");
    assert!(
        e.contains("services.s.volumes[0]") && e.contains("`target`"),
        "{e}"
    );
    let e = err("    volumes:\n      - type: volume\n        source: v\n        target: /x\n        bind: {selinux: z}\n");
    assert!(e.contains("services.s.volumes[0].bind"), "{e}");
    let e = err("    volumes:\n      - type: bind\n        source: /v\n        target: /x\n        bind: {propagation: up}\n");
    assert!(
        e.contains("services.s.volumes[0].bind.propagation") && e.contains("rshared"),
        "{e}"
    );
}

#[test]
fn tmpfs_string_or_list() {
    assert_eq!(one("    tmpfs: /run\n").tmpfs, vec!["/run"]);
    assert_eq!(
        one("    tmpfs: [/run, /tmp:size=64m]\n").tmpfs,
        vec!["/run", "/tmp:size=64m"]
    );
}

#[test]
fn healthcheck_forms() {
    let s = one(
        "    healthcheck:\n      test: curl -f http://localhost\n      interval: 1m30s\n      \
         timeout: 10s\n      retries: '3'\n      start_period: 5s\n",
    );
    let h = s.healthcheck.unwrap();
    assert_eq!(h.test, vec!["CMD-SHELL", "curl -f http://localhost"]);
    assert_eq!(h.interval, Some(GoDuration(Duration::from_secs(90))));
    assert_eq!(h.timeout, Some(GoDuration(Duration::from_secs(10))));
    assert_eq!(h.retries, Some(3));
    assert!(!h.disable);

    let h = one("    healthcheck:\n      test: [CMD, pg_isready]\n")
        .healthcheck
        .unwrap();
    assert_eq!(h.test, vec!["CMD", "pg_isready"]);
    assert!(
        one("    healthcheck:\n      disable: true\n")
            .healthcheck
            .unwrap()
            .disable
    );
    assert!(
        one("    healthcheck:\n      test: [NONE]\n")
            .healthcheck
            .unwrap()
            .disable
    );

    let e = err("    healthcheck:\n      test: [curl, x]\n");
    assert!(
        e.contains("services.s.healthcheck.test") && e.contains("CMD-SHELL"),
        "{e}"
    );
    let e = err("    healthcheck:\n      disable: true\n      test: [CMD, x]\n");
    assert!(
        e.contains("services.s.healthcheck") && e.contains("disable"),
        "{e}"
    );
    let e = err("    healthcheck:\n      test: [CMD, x]\n      interval: soon\n");
    assert!(e.contains("services.s.healthcheck.interval"), "{e}");
}

#[test]
fn sizes_cpus_and_durations() {
    let s = one(
        "    mem_limit: 512m\n    mem_reservation: 1048576\n    shm_size: '1g'\n    cpus: '1.5'\n    \
         memswap_limit: -1\n    stop_grace_period: 1m\n    pids_limit: '100'\n",
    );
    assert_eq!(s.mem_limit, Some(512 * 1024 * 1024));
    assert_eq!(s.mem_reservation, Some(1_048_576));
    assert_eq!(s.shm_size, Some(1 << 30));
    assert_eq!(s.cpus, Some(1.5));
    assert_eq!(s.memswap_limit, Some(-1));
    assert_eq!(
        s.stop_grace_period,
        Some(GoDuration(Duration::from_secs(60)))
    );
    assert_eq!(s.pids_limit, Some(100));
    let e = err("    mem_limit: lots\n");
    assert!(
        e.contains("services.s.mem_limit") && e.contains("lots"),
        "{e}"
    );
}

#[test]
fn scale_and_replicas() {
    assert_eq!(one("    scale: '2'\n").scale, Some(2));
    let s = one("    deploy:\n      replicas: 3\n");
    assert_eq!(s.scale, Some(3));
    assert_eq!(s.deploy.unwrap().replicas, Some(3));
    assert_eq!(
        one("    scale: 2\n    deploy: {replicas: 2}\n").scale,
        Some(2)
    );
    let e = err("    scale: 2\n    deploy: {replicas: 3}\n");
    assert!(
        e.contains("services.s.scale") && e.contains("deploy.replicas"),
        "{e}"
    );
    assert_eq!(one("").scale, None);
}

#[test]
fn deploy_resources_and_restart_policy() {
    let s = one(
        "    deploy:\n      resources:\n        limits: {cpus: '0.5', memory: 256M, pids: 10}\n        \
         reservations: {memory: 64m}\n      restart_policy:\n        condition: on-failure\n        \
         delay: 5s\n        max_attempts: 3\n",
    );
    let d = s.deploy.unwrap();
    let r = d.resources.unwrap();
    let l = r.limits.unwrap();
    assert_eq!(
        (l.cpus, l.memory, l.pids),
        (Some(0.5), Some(256 << 20), Some(10))
    );
    assert_eq!(r.reservations.unwrap().memory, Some(64 << 20));
    let rp = d.restart_policy.unwrap();
    assert_eq!(rp.condition.as_deref(), Some("on-failure"));
    assert_eq!(rp.delay, Some(GoDuration(Duration::from_secs(5))));
    assert_eq!(rp.max_attempts, Some(3));
    let e = err("    deploy:\n      restart_policy: {condition: sometimes}\n");
    assert!(
        e.contains("services.s.deploy.restart_policy.condition"),
        "{e}"
    );
}

#[test]
fn command_and_entrypoint_split_like_a_shell() {
    let s = one("    command: sh -c 'echo \"hi there\"'\n    entrypoint: [/bin/tini, --]\n");
    assert_eq!(s.command.unwrap(), vec!["sh", "-c", "echo \"hi there\""]);
    assert_eq!(s.entrypoint.unwrap(), vec!["/bin/tini", "--"]);
    assert_eq!(one("    entrypoint: ''\n").entrypoint, Some(vec![]));
    let e = err("    command: echo 'unterminated\n");
    assert!(
        e.contains("services.s.command") && e.contains("quotes"),
        "{e}"
    );
}

#[test]
fn ulimits_sysctls_hosts_devices() {
    let s = one(
        "    ulimits:\n      nproc: 65535\n      nofile: {soft: 20000, hard: '40000'}\n    \
         extra_hosts: ['db:10.0.0.5', 'gw=host-gateway']\n    \
         devices:\n      - /dev/fuse\n      - source: /dev/sda\n        permissions: r\n",
    );
    assert_eq!(
        s.ulimits["nproc"],
        Ulimit {
            soft: 65535,
            hard: 65535
        }
    );
    assert_eq!(
        s.ulimits["nofile"],
        Ulimit {
            soft: 20000,
            hard: 40000
        }
    );
    let eh = |h: &str, ip: &str| ExtraHost {
        host: h.into(),
        ip: ip.into(),
    };
    assert_eq!(
        s.extra_hosts,
        vec![eh("db", "10.0.0.5"), eh("gw", "host-gateway")]
    );
    let dev = |a: &str, b: &str, p: &str| Device {
        source: a.into(),
        target: b.into(),
        permissions: p.into(),
    };
    assert_eq!(
        s.devices,
        vec![
            dev("/dev/fuse", "/dev/fuse", "rwm"),
            dev("/dev/sda", "/dev/sda", "r")
        ]
    );
    let s = one("    extra_hosts:\n      db: 10.0.0.5\n      multi: ['::1', 10.0.0.6]\n");
    assert_eq!(
        s.extra_hosts,
        vec![
            eh("db", "10.0.0.5"),
            eh("multi", "::1"),
            eh("multi", "10.0.0.6")
        ]
    );

    let e = err("    ulimits:\n      nofile: {soft: 2, hard: 1}\n");
    assert!(e.contains("services.s.ulimits.nofile"), "{e}");
    let e = err("    extra_hosts: ['nohost']\n");
    assert!(e.contains("services.s.extra_hosts[0]"), "{e}");
    let e = err("    devices: ['dev/x']\n");
    assert!(e.contains("services.s.devices[0]"), "{e}");
}

#[test]
fn restart_pull_policy_and_logging() {
    assert_eq!(
        one("    restart: on-failure:3\n").restart.as_deref(),
        Some("on-failure:3")
    );
    let e = err("    restart: sometimes\n");
    assert!(
        e.contains("services.s.restart") && e.contains("unless-stopped"),
        "{e}"
    );
    assert_eq!(
        one("    pull_policy: if_not_present\n")
            .pull_policy
            .as_deref(),
        Some("missing")
    );
    assert_eq!(
        one("    pull_policy: every_12h\n").pull_policy.as_deref(),
        Some("every_12h")
    );
    let e = err("    pull_policy: sometimes\n");
    assert!(e.contains("services.s.pull_policy"), "{e}");
    let l = one("    logging:\n      options: {max-size: 10m, max-file: 3}\n")
        .logging
        .unwrap();
    assert_eq!(l.driver, "json-file");
    assert_eq!(l.options["max-file"], "3");
}

#[test]
fn build_short_and_long() {
    let b = one("    build: /src/app\n").build.unwrap();
    assert_eq!(b.context, "/src/app");
    assert_eq!(b.dockerfile.as_deref(), Some("Dockerfile"));
    let p = crate::stack::normalize::tests::load_in(
        "services:\n  s:\n    build:\n      dockerfile_inline: FROM alpine\n      args: [A=1, B, C]\n      \
         shm_size: 2g\n      target: prod\n",
        std::path::Path::new("/proj"),
        &[("B", "b")],
    )
    .unwrap();
    let b = p.services["s"].build.clone().unwrap();
    assert_eq!(b.context, "/proj");
    assert_eq!(b.dockerfile, None);
    assert_eq!(b.args.get("A"), Some(&Some("1".into())));
    assert_eq!(b.args.get("B"), Some(&Some("b".into())));
    assert!(
        !b.args.contains_key("C"),
        "unresolved build args are dropped"
    );
    assert_eq!(b.shm_size, Some(2 << 30));
    let e = err("    build:\n      dockerfile: D\n      dockerfile_inline: FROM x\n");
    assert!(
        e.contains("services.s.build") && e.contains("dockerfile_inline"),
        "{e}"
    );
}

#[test]
fn secrets_and_configs_get_default_targets() {
    let s = one(
        "    secrets:\n      - db_pass\n      - source: api_key\n        target: key\n        mode: '0440'\n    \
         configs:\n      - nginx\n      - source: app\n        target: /etc/app.conf\n        mode: 292\n",
    );
    let fr = |s: &str, t: &str, m: Option<u32>| FileReference {
        source: s.into(),
        target: t.into(),
        uid: None,
        gid: None,
        mode: m,
    };
    assert_eq!(
        s.secrets,
        vec![
            fr("db_pass", "/run/secrets/db_pass", None),
            fr("api_key", "/run/secrets/key", Some(0o440))
        ]
    );
    assert_eq!(
        s.configs,
        vec![
            fr("nginx", "/nginx", None),
            fr("app", "/etc/app.conf", Some(292))
        ]
    );
    let e = err("    secrets:\n      - target: /x\n");
    assert!(
        e.contains("services.s.secrets[0]") && e.contains("`source`"),
        "{e}"
    );
    let e = err("    secrets:\n      - {source: a, mode: '99'}\n");
    assert!(e.contains("services.s.secrets[0].mode"), "{e}");
}

#[test]
fn plain_fields_and_flags_are_copied() {
    let s = one(
        "    read_only: 'true'\n    privileged: true\n    init: false\n    tty: 'on'\n    stdin_open: yes\n    \
         user: '1000:1000'\n    working_dir: /app\n    dns: 1.1.1.1\n    expose: [80, '9000-9001/udp']\n    \
         group_add: [wheel, 100]\n    cap_add: [NET_ADMIN]\n    profiles: [debug]\n    oom_score_adj: -500\n",
    );
    assert!(s.read_only && s.privileged && s.tty && s.stdin_open);
    assert_eq!(s.init, Some(false));
    assert_eq!(s.user.as_deref(), Some("1000:1000"));
    assert_eq!(s.dns, vec!["1.1.1.1"]);
    assert_eq!(s.expose, vec!["80", "9000-9001/udp"]);
    assert_eq!(s.group_add, vec!["wheel", "100"]);
    assert_eq!(s.profiles, vec!["debug"]);
    assert_eq!(s.oom_score_adj, Some(-500));
    let e = err("    oom_score_adj: 2000\n");
    assert!(e.contains("services.s.oom_score_adj"), "{e}");
    let e = err("    expose: ['http']\n");
    assert!(e.contains("services.s.expose[0]"), "{e}");
}
