//! Security issue 14: mount options and destinations (`--tmpfs`, `--mount`, `-v`, the OCI
//! runtime's spec mounts, stack files), `net.*` sysctls against the namespace a container
//! really joins, and control characters in what lands in a container's /etc/hosts and
//! /etc/resolv.conf.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::*;

/// `berth ARGS` in the test's network namespace, run from the directory `cwd`.
fn cli_in(b: &Berth, cwd: &Path, args: &[&str]) -> Output {
    b.berth_cmd()
        .current_dir(cwd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run berth")
}

/// Asserts that `berth ARGS` failed and said `wanted`; its stderr.
fn refused(b: &Berth, args: &[&str], wanted: &str) -> String {
    let out = b.cli(args);
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "berth {args:?} should have been refused:\nstdout: {}\nstderr: {err}",
        stdout(&out)
    );
    assert!(
        err.contains(wanted),
        "berth {args:?}: `{wanted}` not in: {err}"
    );
    err
}

/// Asserts that nothing of refused creates is left: no container, no volume.
fn nothing_left(b: &Berth) {
    assert_eq!(b.cli_ok(&["ps", "-aq"]), "", "no container is left");
    assert_eq!(b.cli_ok(&["volume", "ls", "-q"]), "", "no volume is left");
}

#[test]
fn tmpfs_takes_tmpfs_options_only() {
    if !root_or_skip("tmpfs_takes_tmpfs_options_only") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    // The attack: `tmpfs` in berth's working directory is a symlink to a host directory, and
    // `rbind` turns the tmpfs into a bind of that relative source.
    let host_dir = b.path().join("host-dir");
    std::fs::create_dir(&host_dir).unwrap();
    std::fs::write(host_dir.join("canary"), "host secret\n").unwrap();
    let work = b.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::os::unix::fs::symlink(&host_dir, work.join("tmpfs")).unwrap();
    for opts in ["rbind", "bind", "rw,rbind", "size=1m,bind"] {
        let spec = format!("/data:{opts}");
        let out = cli_in(
            &b,
            &work,
            &[
                "run",
                "--rm",
                "--tmpfs",
                &spec,
                "bb:1",
                "sh",
                "-c",
                "cat /data/canary; echo written > /data/written",
            ],
        );
        assert!(
            !out.status.success() && !stdout(&out).contains("host secret"),
            "--tmpfs {spec} reached the host directory: {}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            !host_dir.join("written").exists(),
            "--tmpfs {spec} wrote into the host directory"
        );
        assert!(stderr(&out).contains("tmpfs"), "{}", stderr(&out));
    }
    // Every option that is not tmpfs's own is refused at create, naming it.
    for opts in [
        "rbind",
        "bind",
        "rshared",
        "shared",
        "rslave",
        "private",
        "rprivate",
        "bind-propagation=shared",
        "x-mount.mkdir",
        "tmpcopyup",
        "remount",
        "size=1m,move",
        "size=1m;rbind",
        "size=lots",
        "mode=999",
        "uid=root",
        "size",
    ] {
        let spec = format!("/data:{opts}");
        refused(
            &b,
            &["container", "create", "--tmpfs", &spec, "bb:1", "true"],
            "--tmpfs",
        );
    }
    // --mount type=tmpfs takes no bind or volume options, and the others no tmpfs ones.
    let src = b.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let src = src.to_str().unwrap();
    for spec in [
        "type=tmpfs,target=/data,bind-propagation=rshared".to_string(),
        "type=tmpfs,target=/data,bind-nonrecursive".to_string(),
        "type=tmpfs,target=/data,volume-nocopy".to_string(),
        "type=tmpfs,target=/data,volume-opt=type=none".to_string(),
        "type=tmpfs,target=/data,source=tmpfs".to_string(),
        format!("type=bind,source={src},target=/data,tmpfs-size=1m"),
        "type=volume,source=v1,target=/data,tmpfs-mode=700".to_string(),
        "type=volume,source=v1,target=/data,bind-propagation=shared".to_string(),
        format!("type=bind,source={src},target=/data,volume-nocopy"),
        "type=tmpfs,target=/data,tmpfs-mode=77777".to_string(),
    ] {
        let out = b.cli(&["container", "create", "--mount", &spec, "bb:1", "true"]);
        assert!(
            !out.status.success(),
            "--mount {spec} should have been refused: {}",
            stdout(&out)
        );
    }
    nothing_left(&b);
    // tmpfs's own options work.
    let out = b.cli_ok(&[
        "run", "--rm",
        "--tmpfs", "/data:size=1m,mode=0750,uid=1234,gid=4321,nr_inodes=100,exec,nosuid,nodev",
        "--tmpfs", "/ro:ro,size=64k",
        "--mount", "type=tmpfs,target=/m,tmpfs-size=2m,tmpfs-mode=700",
        "bb:1", "sh", "-c",
        "stat -c %a:%u:%g /data; grep -E ' /(data|ro|m) ' /proc/self/mountinfo | cut -d' ' -f5,6,9-; \
         touch /ro/x 2>/dev/null || echo ro-refused",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "750:1234:4321", "{out}");
    let data = lines.iter().find(|l| l.starts_with("/data ")).unwrap();
    assert!(
        data.contains("nosuid") && data.contains("nodev") && !data.contains("noexec"),
        "{out}"
    );
    assert!(
        data.contains("size=1024k") && data.contains("nr_inodes=100"),
        "{out}"
    );
    let ro = lines.iter().find(|l| l.starts_with("/ro ")).unwrap();
    assert!(ro.starts_with("/ro ro,"), "{out}");
    let m = lines.iter().find(|l| l.starts_with("/m ")).unwrap();
    assert!(m.contains("size=2048k") && m.contains("mode=700"), "{out}");
    assert!(out.ends_with("ro-refused\n"), "{out}");
    nothing_left(&b);
}

#[test]
fn kernel_paths_are_no_mount_destination_for_any_kind() {
    if !root_or_skip("kernel_paths_are_no_mount_destination_for_any_kind") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    let src = b.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let src = src.to_str().unwrap();
    let destinations = [
        "/proc",
        "/proc/",
        "//proc",
        "/proc/sys",
        "/proc/sys/kernel",
        "/proc/self/attr",
        "/sys",
        "/sys/fs/cgroup",
        "/sys/kernel/mm",
        "/data/../proc",
        "/data/../proc/sys",
        "/./sys/fs/../fs/cgroup",
        "/a/b/../../sys",
        "/data/..//proc/sys/net",
    ];
    for dest in destinations {
        let kinds: Vec<Vec<String>> = vec![
            vec!["--tmpfs".into(), dest.into()],
            vec!["--tmpfs".into(), format!("{dest}:size=1m")],
            vec!["--mount".into(), format!("type=tmpfs,target={dest}")],
            vec!["-v".into(), dest.into()],
            vec!["-v".into(), format!("vol1:{dest}")],
            vec!["-v".into(), format!("{src}:{dest}")],
            vec![
                "--mount".into(),
                format!("type=bind,source={src},target={dest}"),
            ],
            vec![
                "--mount".into(),
                format!("type=volume,source=vol1,target={dest}"),
            ],
            vec!["--mount".into(), format!("type=volume,target={dest}")],
        ];
        for kind in kinds {
            let mut args = vec!["container", "create"];
            args.extend(kind.iter().map(String::as_str));
            args.extend(["bb:1", "true"]);
            refused(&b, &args, "belongs to the kernel");
        }
    }
    // A `..` spelling that stays outside the kernel's paths is cleaned, not refused.
    let out = b.cli_ok(&[
        "run", "--rm", "--tmpfs", "/data/../scratch:size=1m", "-v", &format!("{src}:/x/../bound"),
        "bb:1", "sh", "-c",
        "grep -cE ' /(scratch|bound) ' /proc/self/mountinfo; grep -c ' /data' /proc/self/mountinfo || true",
    ]);
    assert_eq!(out, "2\n0\n");
    // The same destination twice, however spelled, is refused.
    refused(
        &b,
        &[
            "container",
            "create",
            "--tmpfs",
            "/data/../x",
            "-v",
            &format!("{src}:/x"),
            "bb:1",
            "true",
        ],
        "duplicate mount point",
    );
    nothing_left(&b);
}

/// The OCI runtime refuses the same destinations (a spec can name them directly), except the
/// kernel's own mounts there and lxcfs-style file binds in /proc, as runc does; and a bind
/// needs a source.
#[test]
fn the_runtime_refuses_mounts_over_the_kernels_paths() {
    if !root_or_skip("the_runtime_refuses_mounts_over_the_kernels_paths") {
        return;
    }
    let b = Berth::new();
    let host_dir = b.path().join("host-dir");
    std::fs::create_dir(&host_dir).unwrap();
    let host = host_dir.to_str().unwrap().to_string();
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            serde_json::json!({"destination": "/proc/sys", "type": "tmpfs", "source": "tmpfs"}),
            "/proc",
        ),
        (
            serde_json::json!({"destination": "/proc/sys/kernel", "type": "bind", "source": host,
                            "options": ["rbind"]}),
            "/proc",
        ),
        (
            serde_json::json!({"destination": "/proc/self/attr", "type": "none", "source": host,
                            "options": ["bind"]}),
            "/proc",
        ),
        (
            serde_json::json!({"destination": "/data/../proc", "type": "tmpfs", "source": "tmpfs"}),
            "/proc",
        ),
        (
            serde_json::json!({"destination": "/proc", "type": "bind", "source": host,
                            "options": ["rbind"]}),
            "/proc",
        ),
        (
            serde_json::json!({"destination": "/sys", "type": "tmpfs", "source": "tmpfs"}),
            "/sys",
        ),
        (
            serde_json::json!({"destination": "/sys/kernel", "type": "bind", "source": host,
                            "options": ["rbind"]}),
            "/sys",
        ),
        (
            serde_json::json!({"destination": "/x/../sys/fs/cgroup", "type": "tmpfs", "source": "tmpfs"}),
            "/sys",
        ),
        (
            serde_json::json!({"destination": "proc/sys", "type": "tmpfs", "source": "tmpfs"}),
            "absolute",
        ),
        (
            serde_json::json!({"destination": "/data", "type": "bind", "options": ["rbind"]}),
            "absolute",
        ),
    ];
    for (i, (mount, wanted)) in cases.into_iter().enumerate() {
        let bundle = b.bundle(&format!("b{i}"), &["true"], |spec| {
            spec["mounts"].as_array_mut().unwrap().push(mount.clone());
        });
        // From the test root, where `host-dir` and `tmpfs` would resolve to host paths.
        std::os::unix::fs::symlink(&host_dir, b.path().join("tmpfs")).ok();
        let out = Command::new(tool("unshare", "util-linux"))
            .current_dir(b.path())
            .arg("--net")
            .arg(env!("CARGO_BIN_EXE_berth"))
            .arg("--root")
            .arg(b.path().join("state"))
            .args([
                "oci",
                "run",
                "-b",
                bundle.to_str().unwrap(),
                &format!("secmounts-c{i}"),
            ])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(
            !out.status.success() && err.contains(wanted) && err.contains("mounts["),
            "mount {mount} should have been refused naming {wanted}: {err}"
        );
        assert!(
            b.state_files()
                .iter()
                .all(|f| !f.contains(&format!("secmounts-c{i}"))),
            "nothing left of secmounts-c{i}"
        );
    }
    assert_eq!(std::fs::read_dir(&host_dir).unwrap().count(), 0);
    // The kernel's own mounts (the default spec) and an lxcfs-style file bind pass.
    let uptime = b.path().join("uptime");
    std::fs::write(&uptime, "12345.67 8910.11\n").unwrap();
    let bundle = b.bundle("ok", &["cat", "/proc/uptime"], |spec| {
        spec["mounts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!(
            {"destination": "/proc/uptime", "type": "bind", "source": uptime,
             "options": ["bind", "ro"]}));
    });
    let out = b.oci(&["run", "-b", bundle.to_str().unwrap(), "secmounts-ok"]);
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "12345.67 8910.11\n"),
        "{}",
        stderr(&out)
    );
}

/// `berth -f FILE config` with one service whose settings are `lines`.
fn config_with(dir: &Path, lines: &str) -> Output {
    let file = dir.join("compose.yaml");
    std::fs::write(
        &file,
        format!("services:\n  web:\n    image: x\n{lines}secrets:\n  s: {{file: ./s}}\nconfigs:\n  c: {{file: ./c}}\nvolumes:\n  v: {{}}\n"),
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .current_dir(dir)
        .arg("-f")
        .arg(&file)
        .arg("config")
        .output()
        .unwrap()
}

#[test]
fn stack_files_refuse_kernel_paths_and_foreign_tmpfs_options() {
    let dir = tempfile::tempdir().unwrap();
    for (lines, path) in [
        (
            "    volumes: [\"/x:/proc/sys\"]\n",
            "services.web.volumes[0]",
        ),
        (
            "    volumes: [\"v:/data/../proc\"]\n",
            "services.web.volumes[0]",
        ),
        (
            "    volumes: [\"/sys/fs/cgroup\"]\n",
            "services.web.volumes[0]",
        ),
        (
            "    volumes: [{type: tmpfs, target: /sys/kernel}]\n",
            "services.web.volumes[0]",
        ),
        (
            "    volumes: [{type: bind, source: /x, target: //proc}]\n",
            "services.web.volumes[0]",
        ),
        ("    tmpfs: [/run, /proc/sys]\n", "services.web.tmpfs[1]"),
        ("    tmpfs: /a/../sys\n", "services.web.tmpfs[0]"),
        ("    tmpfs: [\"/data:rbind\"]\n", "services.web.tmpfs[0]"),
        (
            "    tmpfs: [\"/data:size=1m,bind\"]\n",
            "services.web.tmpfs[0]",
        ),
        ("    tmpfs: [\"/data:rshared\"]\n", "services.web.tmpfs[0]"),
        ("    tmpfs: [\"/data:x-foo\"]\n", "services.web.tmpfs[0]"),
        ("    tmpfs: [\"data\"]\n", "services.web.tmpfs[0]"),
        (
            "    secrets: [{source: s, target: /proc/sys/kernel/core_pattern}]\n",
            "services.web.secrets[0]",
        ),
        (
            "    secrets: [{source: s, target: ../../proc/x}]\n",
            "services.web.secrets[0]",
        ),
        (
            "    configs: [{source: c, target: /sys/kernel/x}]\n",
            "services.web.configs[0]",
        ),
        (
            "    configs: [{source: c, target: /etc/../sys}]\n",
            "services.web.configs[0]",
        ),
    ] {
        let out = config_with(dir.path(), lines);
        let err = stderr(&out);
        assert!(
            !out.status.success() && err.contains(path),
            "{lines}: {err}"
        );
    }
    // What stays outside the kernel's paths passes.
    let out = config_with(
        dir.path(),
        "    volumes: [\"/x:/data/../srv\", v:/process]\n    tmpfs: [\"/run:size=64m,mode=1777,uid=1,exec\"]\n    secrets: [s]\n    configs: [{source: c, target: /etc/app.conf}]\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `net.core.somaxconn` as the test's namespace (where berth runs) sees it.
fn somaxconn(b: &Berth) -> String {
    let out = b
        .in_netns("cat")
        .arg("/proc/sys/net/core/somaxconn")
        .output()
        .unwrap();
    assert!(out.status.success());
    stdout(&out)
}

#[test]
fn net_sysctls_are_refused_in_berths_own_network_namespace() {
    if !root_or_skip("net_sysctls_are_refused_in_berths_own_network_namespace") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    let before = somaxconn(&b);
    assert_ne!(before, "1234\n");
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "hostnet",
        "--network",
        "host",
        "bb:1",
        "sleep",
        "600",
    ]);
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "chained",
        "--network",
        "container:hostnet",
        "bb:1",
        "sleep",
        "600",
    ]);
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "own",
        "--network",
        "none",
        "bb:1",
        "sleep",
        "600",
    ]);
    // X on berth's (here: the test's) network: joining it must not change its values.
    for network in ["container:hostnet", "container:chained", "host"] {
        let out = b.cli(&[
            "run",
            "--rm",
            "--network",
            network,
            "--sysctl",
            "net.core.somaxconn=1234",
            "bb:1",
            "cat",
            "/proc/sys/net/core/somaxconn",
        ]);
        let err = stderr(&out);
        assert!(
            !out.status.success() && err.contains("sysctl `net.core.somaxconn` is not allowed"),
            "--network {network}: {}{err}",
            stdout(&out)
        );
        assert_eq!(
            somaxconn(&b),
            before,
            "--network {network} changed berth's namespace"
        );
    }
    // X on a network namespace of its own: allowed, and set there only.
    for network in ["container:own", "none"] {
        let out = b.cli_ok(&[
            "run",
            "--rm",
            "--network",
            network,
            "--sysctl",
            "net.core.somaxconn=1234",
            "bb:1",
            "cat",
            "/proc/sys/net/core/somaxconn",
        ]);
        assert_eq!(out, "1234\n", "--network {network}");
    }
    assert_eq!(
        b.cli_ok(&["exec", "own", "cat", "/proc/sys/net/core/somaxconn"]),
        "1234\n"
    );
    assert_eq!(somaxconn(&b), before);
    b.cli_ok(&["container", "rm", "-f", "chained", "hostnet", "own"]);
    // The runtime alone: a spec naming the caller's own namespace by path.
    let bundle = b.bundle("self", &["true"], |spec| {
        for ns in spec["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "network" {
                ns["path"] = serde_json::json!("/proc/self/ns/net");
            }
        }
        spec["linux"]["sysctl"] = serde_json::json!({"net.core.somaxconn": "1234"});
    });
    let out = b.oci(&["run", "-b", bundle.to_str().unwrap(), "secmounts-self"]);
    assert!(
        !out.status.success()
            && stderr(&out).contains("sysctl `net.core.somaxconn` is not allowed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn control_characters_never_reach_hosts_or_resolv_conf() {
    if !root_or_skip("control_characters_never_reach_hosts_or_resolv_conf") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    let out = b.cli(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--add-host",
        "x:1.2.3.4\n6.6.6.6 injected",
        "bb:1",
        "cat",
        "/etc/hosts",
    ]);
    assert!(
        !out.status.success() && !stdout(&out).contains("injected"),
        "{}",
        stdout(&out)
    );
    for (flag, value) in [
        ("--add-host", "evil:1.2.3.4\n6.6.6.6 bank.example"),
        ("--add-host", "evil\n6.6.6.6 bank:1.2.3.4"),
        ("--add-host", "evil\r:1.2.3.4"),
        ("--add-host", "evil\t6.6.6.6:1.2.3.4"),
        ("--add-host", "evil:1.2.3.4\u{b}"),
        ("--add-host", "evil\u{7f}:1.2.3.4"),
        ("--add-host", "evil\u{85}x:1.2.3.4"),
        ("--add-host", "evil:1.2.3.4 6.6.6.6"),
        ("--add-host", "two names:1.2.3.4"),
        ("--add-host", ":1.2.3.4"),
        ("--add-host", "noaddress"),
        ("--dns", "1.1.1.1\nnameserver 6.6.6.6"),
        ("--dns", "1.1.1.1\rsearch evil.example"),
        ("--dns", "1.1.1.1\u{c}"),
        ("--dns", "resolver.example"),
        ("--hostname", "h\n6.6.6.6 bank"),
        ("--hostname", "h\r"),
        ("--hostname", "h\u{1b}[31m"),
        ("--hostname", "h\u{85}x"),
        ("--hostname", "two names"),
    ] {
        refused(
            &b,
            &["container", "create", flag, value, "bb:1", "true"],
            flag,
        );
    }
    nothing_left(&b);
    // Plain values still work, and land where they belong.
    let out = b.cli_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--hostname",
        "web-1",
        "--add-host",
        "db:10.0.0.5",
        "--add-host",
        "v6:::1",
        "--add-host",
        "gw=10.0.0.1",
        "--dns",
        "9.9.9.9",
        "bb:1",
        "sh",
        "-c",
        "hostname; cat /etc/hosts /etc/resolv.conf",
    ]);
    assert!(out.starts_with("web-1\n"), "{out}");
    for line in [
        "10.0.0.5\tdb\n",
        "::1\tv6\n",
        "10.0.0.1\tgw\n",
        "nameserver 9.9.9.9\n",
    ] {
        assert!(out.contains(line), "{line:?} not in {out}");
    }
}

#[test]
fn stack_files_refuse_control_characters_in_hosts_and_resolver_keys() {
    let dir = tempfile::tempdir().unwrap();
    for (lines, path) in [
        ("    hostname: \"a\\nb\"\n", "services.web.hostname"),
        ("    hostname: \"a\\u0085b\"\n", "services.web.hostname"),
        ("    domainname: \"a\\rb\"\n", "services.web.domainname"),
        (
            "    dns: [\"1.1.1.1\\nnameserver 6.6.6.6\"]\n",
            "services.web.dns[0]",
        ),
        ("    dns: \"1.1.1.1\\nx\"\n", "services.web.dns[0]"),
        (
            "    dns_search: [ok.example, \"a\\nb\"]\n",
            "services.web.dns_search[1]",
        ),
        (
            "    dns_search: \"a\\u000bb\"\n",
            "services.web.dns_search[0]",
        ),
        (
            "    dns_opt: [\"ndots:1\\nnameserver 6.6.6.6\"]\n",
            "services.web.dns_opt[0]",
        ),
        (
            "    extra_hosts: [\"a:1.2.3.4\\n6.6.6.6 b\"]\n",
            "services.web.extra_hosts[0]",
        ),
        (
            "    extra_hosts: [\"a\\tb:1.2.3.4\"]\n",
            "services.web.extra_hosts[0]",
        ),
        (
            "    extra_hosts: {a: \"1.2.3.4\\r\"}\n",
            "services.web.extra_hosts.a",
        ),
        (
            "    extra_hosts: {\"a\\nb\": 1.2.3.4}\n",
            "services.web.extra_hosts",
        ),
        (
            "    build: {context: ., extra_hosts: [\"a:1.1.1.1\\nx\"]}\n",
            "services.web.build.extra_hosts[0]",
        ),
    ] {
        let out = config_with(dir.path(), lines);
        let err = stderr(&out);
        assert!(
            !out.status.success() && err.contains(path) && err.contains("control character"),
            "{lines}: {err}"
        );
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "one line, escaped: {err}"
        );
    }
}

/// A bind's relative source is the bundle's (the OCI runtime spec's rule), never the caller's
/// working directory's: a `tmpfs` or `host-dir` there is not what the container gets.
#[test]
fn the_runtime_resolves_relative_bind_sources_in_the_bundle() {
    if !root_or_skip("the_runtime_resolves_relative_bind_sources_in_the_bundle") {
        return;
    }
    let b = Berth::new();
    for dir in ["tmpfs", "host-dir"] {
        std::fs::create_dir_all(b.path().join(dir)).unwrap();
        std::fs::write(b.path().join(dir).join("which"), "the caller's directory\n").unwrap();
    }
    let mounts = [
        serde_json::json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs",
                        "options": ["rbind"]}),
        serde_json::json!({"destination": "/data", "type": "bind", "source": "host-dir",
                        "options": ["rbind"]}),
    ];
    for (i, mount) in mounts.into_iter().enumerate() {
        let bundle = b.bundle(&format!("rel{i}"), &["cat", "/data/which"], |spec| {
            spec["mounts"].as_array_mut().unwrap().push(mount.clone());
        });
        let source = bundle.join(mount["source"].as_str().unwrap());
        std::fs::create_dir_all(&source).unwrap();
        std::fs::write(source.join("which"), "the bundle's\n").unwrap();
        let out = Command::new(tool("unshare", "util-linux"))
            .current_dir(b.path())
            .arg("--net")
            .arg(env!("CARGO_BIN_EXE_berth"))
            .arg("--root")
            .arg(b.path().join("state"))
            .args([
                "oci",
                "run",
                "-b",
                bundle.to_str().unwrap(),
                &format!("secmounts-rel{i}"),
            ])
            .output()
            .unwrap();
        assert_eq!(stdout(&out), "the bundle's\n", "{mount}: {}", stderr(&out));
    }
}
