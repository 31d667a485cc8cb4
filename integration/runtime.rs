//! The OCI runtime (`berth oci`) on busybox bundles, each run in a private network namespace.

use std::time::{Duration, Instant};

use crate::support::*;

#[test]
fn run_gives_pid_1_hostname_docker_capabilities_and_the_exit_code() {
    if !root_or_skip("run_gives_pid_1_hostname_docker_capabilities_and_the_exit_code") {
        return;
    }
    let b = Berth::new();
    let script =
        "echo pid=$$; hostname; grep -E '^(CapEff|CapInh|CapAmb|CapBnd)' /proc/self/status; exit 7";
    let bundle = b.bundle("b1", &["sh", "-c", script], |_| {});
    let out = b.oci(&["run", "-b", bundle.to_str().unwrap(), &b.id("c1")]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(7),
        "exit code passes through: {text}{}",
        stderr(&out)
    );
    assert!(text.contains("pid=1\n"), "{text}");
    assert!(text.contains("\nberth\n"), "hostname: {text}");
    assert!(
        text.contains("CapEff:\t00000000a80425fb"),
        "Docker's 14 capabilities: {text}"
    );
    assert!(
        text.contains("CapBnd:\t00000000a80425fb"),
        "bounding set reduced: {text}"
    );
    assert!(
        text.contains("CapInh:\t0000000000000000") && text.contains("CapAmb:\t0000000000000000"),
        "{text}"
    );
    let st = b.oci(&["state", &b.id("c1")]);
    assert!(!st.status.success(), "run deletes the container afterwards");
}

#[test]
fn a_killed_container_exits_with_128_plus_the_signal() {
    if !root_or_skip("a_killed_container_exits_with_128_plus_the_signal") {
        return;
    }
    let b = Berth::new();
    let bundle = b.bundle("b1", &["sleep", "60"], |_| {});
    let mut child = b.oci_spawn(&["run", "-b", bundle.to_str().unwrap(), &b.id("c1")]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&b, &b.id("c1")) != "running" {
        assert!(Instant::now() < deadline, "never running");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(b.oci(&["kill", &b.id("c1"), "KILL"]).status.success());
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(137));
}

pub fn status(b: &Berth, id: &str) -> String {
    let out = b.oci(&["state", id]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["status"].as_str().unwrap_or("").to_string()
}

#[test]
fn lifecycle_transitions_and_invalid_ones() {
    if !root_or_skip("lifecycle_transitions_and_invalid_ones") {
        return;
    }
    let b = Berth::new();
    let bundle = b.bundle("b1", &["sleep", "60"], |_| {});
    let bundle = bundle.to_str().unwrap();
    let out = b.oci_detached(&["create", "-b", bundle, &b.id("c1")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(status(&b, &b.id("c1")), "created");
    // The container's mounts (its root, /proc, /dev...) live in its own mount namespace only.
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !host_mounts.contains(bundle),
        "a container mount leaked to the host: {host_mounts}"
    );
    let again = b.oci_detached(&["create", "-b", bundle, &b.id("c1")]);
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert!(b.oci(&["start", &b.id("c1")]).status.success());
    assert_eq!(status(&b, &b.id("c1")), "running");
    let out = b.oci(&["start", &b.id("c1")]);
    assert!(
        stderr(&out).contains("is running; start needs it created"),
        "{}",
        stderr(&out)
    );
    let out = b.oci(&["delete", &b.id("c1")]);
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert!(b.oci(&["kill", &b.id("c1"), "KILL"]).status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&b, &b.id("c1")) != "stopped" {
        assert!(Instant::now() < deadline, "never stopped");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = b.oci(&["kill", &b.id("c1")]);
    assert!(stderr(&out).contains("stopped"), "{}", stderr(&out));
    assert!(b.oci(&["delete", &b.id("c1")]).status.success());
    assert!(stderr(&b.oci(&["state", &b.id("c1")])).contains("does not exist"));
    // delete --force of a created container kills it.
    assert!(b
        .oci_detached(&["create", "-b", bundle, &b.id("c2")])
        .status
        .success());
    assert!(b.oci(&["delete", "--force", &b.id("c2")]).status.success());
    assert!(stderr(&b.oci(&["state", &b.id("c2")])).contains("does not exist"));
}

#[test]
fn masked_read_only_paths_and_read_only_root() {
    if !root_or_skip("masked_read_only_paths_and_read_only_root") {
        return;
    }
    let b = Berth::new();
    let script = "cat /proc/interrupts | wc -c; ls /sys/firmware | wc -l; \
                  (echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null && echo sys-writable || echo sys-ro; \
                  touch /newfile 2>/dev/null && echo root-writable || echo root-ro";
    let bundle = b.bundle("b1", &["sh", "-c", script], |_| {});
    let out = b.oci(&["run", "-b", bundle.to_str().unwrap(), &b.id("c1")]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert_eq!(lines, ["0", "0", "sys-ro", "root-ro"], "{text}");
}

#[test]
fn a_symlinked_mount_target_stays_inside_the_root() {
    if !root_or_skip("a_symlinked_mount_target_stays_inside_the_root") {
        return;
    }
    let b = Berth::new();
    let src = b.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let marker = format!("marker-{}", std::process::id());
    std::fs::write(src.join(&marker), "from src").unwrap();
    let srcs = src.to_str().unwrap().to_string();
    let script = format!("cat /tmp/{marker}");
    let bundle =
        b.bundle("b1", &["sh", "-c", &script], |spec| {
            spec["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/evil", "type": "bind", "source": srcs, "options": ["rbind", "ro"]
        }));
        });
    // A hostile rootfs: /evil is a symlink to /tmp, which on the host is the host's /tmp.
    std::os::unix::fs::symlink("/tmp", bundle.join("rootfs/evil")).unwrap();
    let out = b.oci(&["run", "-b", bundle.to_str().unwrap(), &b.id("c1")]);
    assert!(
        stdout(&out).contains("from src"),
        "mounted on the root's /tmp: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        !std::path::Path::new("/tmp").join(&marker).exists(),
        "never on the host's /tmp"
    );
    // A symlink that leads nowhere inside the root is refused, naming the mount.
    let bundle2 =
        b.bundle("b2", &["true"], |spec| {
            spec["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/evil", "type": "bind", "source": "/etc", "options": ["rbind", "ro"]
        }));
        });
    std::os::unix::fs::symlink(b.path().join("nowhere"), bundle2.join("rootfs/evil")).unwrap();
    let out = b.oci(&["run", "-b", bundle2.to_str().unwrap(), &b.id("c2")]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("/evil"), "{}", stderr(&out));
    assert!(
        !b.path().join("nowhere").exists(),
        "nothing created on the host"
    );
}

#[test]
fn a_missing_program_is_a_clear_error() {
    if !root_or_skip("a_missing_program_is_a_clear_error") {
        return;
    }
    let b = Berth::new();
    let bundle = b.bundle("b1", &["/no/such/program"], |_| {});
    let out = b.oci(&["run", "-b", bundle.to_str().unwrap(), &b.id("c1")]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        stderr(&out).contains("/no/such/program"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn seccomp_refuses_namespaces_mounts_and_keyrings() {
    if !root_or_skip("seccomp_refuses_namespaces_mounts_and_keyrings") {
        return;
    }
    let b = Berth::new();
    let script = "grep ^Seccomp: /proc/self/status; \
                  unshare -n true 2>/dev/null && echo unshare-ok || echo unshare-refused; \
                  mount -t tmpfs t /tmp 2>/dev/null && echo mount-ok || echo mount-refused; \
                  echo done";
    let bundle = b.bundle("b1", &["sh", "-c", script], |_| {});
    let out = b.oci(&["run", "-b", bundle.to_str().unwrap(), &b.id("c1")]);
    let text = stdout(&out);
    assert!(
        text.contains("Seccomp:\t2"),
        "a filter is active: {text}{}",
        stderr(&out)
    );
    assert!(
        text.contains("unshare-refused") && text.contains("mount-refused"),
        "{text}"
    );
    assert!(text.contains("done"));
}

#[test]
fn a_non_root_user_gets_no_capabilities() {
    if !root_or_skip("a_non_root_user_gets_no_capabilities") {
        return;
    }
    let b = Berth::new();
    let bundle = b.bundle(
        "b1",
        &["sh", "-c", "id -u; id -G; grep ^CapEff /proc/self/status"],
        |spec| {
            spec["process"]["user"] =
                serde_json::json!({"uid": 65534, "gid": 65534, "additionalGids": [100]});
            spec["process"]["capabilities"]["effective"] = serde_json::json!([]);
            spec["process"]["capabilities"]["permitted"] = serde_json::json!([]);
        },
    );
    let out = b.oci(&["run", "-b", bundle.to_str().unwrap(), &b.id("c1")]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "65534");
    assert!(lines[1].contains("100"), "{text}");
    assert!(text.contains("CapEff:\t0000000000000000"), "{text}");
}

#[test]
fn descriptors_of_the_caller_do_not_leak_into_the_container() {
    if !root_or_skip("descriptors_of_the_caller_do_not_leak_into_the_container") {
        return;
    }
    let b = Berth::new();
    let bundle = b.bundle(
        "b1",
        &[
            "sh",
            "-c",
            "ls /proc/self/fd | wc -l; readlink /proc/self/cwd",
        ],
        |_| {},
    );
    // The shell leaks fd 7 (a host directory) to berth, as a careless caller would, and
    // calls it from a host working directory.
    let cmd = format!(
        "cd /usr/share; exec 7</ ; exec unshare --net {} --root {} oci run -b {} c1",
        env!("CARGO_BIN_EXE_berth"),
        b.path().join("state").display(),
        bundle.display()
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .output()
        .unwrap();
    // 0, 1, 2 and the directory ls itself opens; the working directory is the spec's.
    assert_eq!(stdout(&out), "4\n/\n", "{}", stderr(&out));
}

fn cgroup_dirs_of(b: &Berth, id: &str) -> Vec<std::path::PathBuf> {
    let _ = b;
    [
        "memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "unified", "",
    ]
    .iter()
    .map(|c| {
        std::path::Path::new("/sys/fs/cgroup")
            .join(c)
            .join("berth")
            .join(id)
    })
    .filter(|p| p.exists())
    .collect()
}

#[test]
fn a_pids_limit_stops_a_fork_bomb() {
    if !root_or_skip("a_pids_limit_stops_a_fork_bomb") {
        return;
    }
    let b = Berth::new();
    let id = format!("pids-{}", std::process::id());
    let script = "for i in $(seq 40); do sleep 2 & done 2>/tmp/err; wait";
    let bundle = b.bundle("b1", &["sh", "-c", script], |spec| {
        spec["linux"]["resources"]["pids"] = serde_json::json!({"limit": 10});
        spec["root"]["readonly"] = serde_json::json!(false);
    });
    let out = b.oci(&["run", "-b", bundle.to_str().unwrap(), &id]);
    let err = std::fs::read_to_string(bundle.join("rootfs/tmp/err")).unwrap_or_default();
    assert!(
        err.contains("can't fork") || err.contains("Resource temporarily unavailable"),
        "forks refused: {err}{}",
        stderr(&out)
    );
    assert!(
        cgroup_dirs_of(&b, &id).is_empty(),
        "cgroups removed after run"
    );
}

#[test]
fn a_memory_limit_oom_kills() {
    if !root_or_skip("a_memory_limit_oom_kills") {
        return;
    }
    let b = Berth::new();
    let id = format!("mem-{}", std::process::id());
    // Grow a shell variable far past the 16 MiB limit.
    let script = "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done";
    let bundle = b.bundle("b1", &["sh", "-c", script], |spec| {
        spec["linux"]["resources"]["memory"] =
            serde_json::json!({"limit": 16 << 20, "swap": 16 << 20});
    });
    let out = b.oci(&["run", "-b", bundle.to_str().unwrap(), &id]);
    assert_eq!(
        out.status.code(),
        Some(137),
        "killed by the OOM killer: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("OOM-killed"),
        "the OOM kill is reported: {}",
        stderr(&out)
    );
}

#[test]
fn mknod_cannot_reach_a_host_disk() {
    if !root_or_skip("mknod_cannot_reach_a_host_disk") {
        return;
    }
    let b = Berth::new();
    // CAP_MKNOD is in the default set: the node can be made, but the devices cgroup refuses it.
    let script = "mknod /dev/disk b 8 0 && echo made; head -c 1 /dev/disk >/dev/null 2>&1 && echo read || echo refused; \
                  mknod /dev/mem2 c 1 1; head -c 1 /dev/mem2 >/dev/null 2>&1 && echo mem-read || echo mem-refused";
    let bundle = b.bundle("b1", &["sh", "-c", script], |_| {});
    let out = b.oci(&["run", "-b", bundle.to_str().unwrap(), &b.id("c1")]);
    let text = stdout(&out);
    assert!(
        text.contains("refused") && !text.contains("\nread"),
        "{text}{}",
        stderr(&out)
    );
    assert!(text.contains("mem-refused"), "{text}");
}
