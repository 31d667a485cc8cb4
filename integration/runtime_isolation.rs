//! The runtime's isolation details: the container's read-only cgroup view, namespaced sysctls
//! only, oom_score_adj, a hostile rootfs whose /proc is a symlink, read-only recursive binds,
//! hugetlb limits and root propagation.

use std::process::Command;

use crate::support::*;

fn run(b: &Berth, bundle: &std::path::Path, id: &str) -> (Option<i32>, String, String) {
    let out = b.oci(&["run", "-b", bundle.to_str().unwrap(), id]);
    (out.status.code(), stdout(&out), stderr(&out))
}

#[test]
fn the_cgroup_view_is_the_containers_own_and_read_only() {
    if !root_or_skip("the_cgroup_view_is_the_containers_own_and_read_only") {
        return;
    }
    let b = Berth::new();
    // v1 (or hybrid): a tmpfs of hierarchies; v2: one cgroup2 mount. Either way read-only.
    let script = "grep -q ' /sys/fs/cgroup ' /proc/self/mountinfo && echo mounted; \
                  grep -v '::/$' /proc/self/cgroup | grep -v ':/$' || echo rooted; \
                  for f in /sys/fs/cgroup/memory/cgroup.procs /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/memory/release_agent; do \
                    [ -e $f ] || continue; (echo 1 > $f) 2>/dev/null && echo writable:$f || echo refused; done";
    let bundle = b.bundle("b1", &["sh", "-c", script], |_| {});
    let (code, out, err) = run(&b, &bundle, &b.id("c1"));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("mounted"), "{out}");
    assert!(
        out.contains("rooted"),
        "every hierarchy rooted at the container: {out}"
    );
    assert!(
        out.contains("refused") && !out.contains("writable"),
        "{out}"
    );
}

#[test]
fn only_namespaced_sysctls_are_written() {
    if !root_or_skip("only_namespaced_sysctls_are_written") {
        return;
    }
    let b = Berth::new();
    let host_shmmax = std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap();
    let bundle = b.bundle(
        "b1",
        &[
            "cat",
            "/proc/sys/kernel/shmmax",
            "/proc/sys/net/ipv4/ip_forward",
        ],
        |spec| {
            spec["linux"]["sysctl"] =
                serde_json::json!({"kernel.shmmax": "4242424", "net.ipv4.ip_forward": "1"});
        },
    );
    let (code, out, err) = run(&b, &bundle, &b.id("c1"));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "4242424\n1\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap(),
        host_shmmax,
        "the host's value is untouched"
    );
    let bundle = b.bundle("b2", &["true"], |spec| {
        spec["linux"]["sysctl"] = serde_json::json!({"kernel.panic": "1"});
    });
    let (code, _, err) = run(&b, &bundle, &b.id("c2"));
    assert_ne!(code, Some(0));
    assert!(
        err.contains("sysctl `kernel.panic` is not allowed") && err.contains("host"),
        "{err}"
    );
    assert!(
        b.state_files().iter().all(|f| !f.contains(&b.id("c2"))),
        "nothing left of c2"
    );
}

#[test]
fn oom_score_adj_is_applied() {
    if !root_or_skip("oom_score_adj_is_applied") {
        return;
    }
    let b = Berth::new();
    let bundle = b.bundle("b1", &["cat", "/proc/self/oom_score_adj"], |spec| {
        spec["process"]["oomScoreAdj"] = serde_json::json!(321);
    });
    let (code, out, err) = run(&b, &bundle, &b.id("c1"));
    assert_eq!((code, out.as_str()), (Some(0), "321\n"), "{err}");
    let bundle = b.bundle("b2", &["true"], |spec| {
        spec["process"]["oomScoreAdj"] = serde_json::json!(5000);
    });
    let (_, _, err) = run(&b, &bundle, &b.id("c2"));
    assert!(err.contains("outside -1000..1000"), "{err}");
}

#[test]
fn a_symlinked_proc_in_the_image_gets_berths_own_proc() {
    if !root_or_skip("a_symlinked_proc_in_the_image_gets_berths_own_proc") {
        return;
    }
    let b = Berth::new();
    let bundle = b.bundle(
        "b1",
        &[
            "sh",
            "-c",
            "test -L /proc && echo link || echo dir; head -c 5 /proc/self/status",
        ],
        |_| {},
    );
    let rootfs = bundle.join("rootfs");
    std::fs::remove_dir(rootfs.join("proc")).unwrap();
    std::fs::create_dir(rootfs.join("elsewhere")).unwrap();
    std::os::unix::fs::symlink("/elsewhere", rootfs.join("proc")).unwrap();
    let (code, out, err) = run(&b, &bundle, &b.id("c1"));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "dir\nName:");
    assert_eq!(
        std::fs::read_dir(rootfs.join("elsewhere")).unwrap().count(),
        0
    );
}

/// A tmpfs mounted on the host for one test, unmounted when dropped.
struct HostMount(std::path::PathBuf);

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_read_only_rbind_is_read_only_all_the_way_down() {
    if !root_or_skip("a_read_only_rbind_is_read_only_all_the_way_down") {
        return;
    }
    let b = Berth::new();
    let src = b.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(src.join("sub"))
        .status()
        .unwrap()
        .success();
    assert!(ok, "mount a tmpfs for the test");
    let _guard = HostMount(src.join("sub"));
    let script = "touch /data/top 2>/dev/null && echo top-writable || echo top-ro; \
                  touch /data/sub/x 2>/dev/null && echo sub-writable || echo sub-ro";
    let bundle = b.bundle("b1", &["sh", "-c", script], |spec| {
        spec["mounts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "destination": "/data", "type": "bind", "source": src,
                "options": ["rbind", "ro", "nosuid", "nodev"]
            }));
    });
    let (code, out, err) = run(&b, &bundle, &b.id("c1"));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "top-ro\nsub-ro\n");
}

#[test]
fn hugetlb_limits_reach_the_cgroup() {
    if !root_or_skip("hugetlb_limits_reach_the_cgroup") {
        return;
    }
    if !std::path::Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        eprintln!("skipped: no 2 MiB huge pages on this host");
        return;
    }
    let b = Berth::new();
    let script = "cat /sys/fs/cgroup/hugetlb.2MB.max /sys/fs/cgroup/unified/hugetlb.2MB.max \
                  /sys/fs/cgroup/hugetlb/hugetlb.2MB.limit_in_bytes 2>/dev/null";
    let bundle = b.bundle("b1", &["sh", "-c", script], |spec| {
        spec["linux"]["resources"]["hugepageLimits"] =
            serde_json::json!([{"pageSize": "2MB", "limit": 4194304}]);
    });
    let (_, out, err) = run(&b, &bundle, &b.id("c1"));
    assert_eq!(out.trim(), "4194304", "{err}");
}

#[test]
fn root_propagation_options() {
    if !root_or_skip("root_propagation_options") {
        return;
    }
    let b = Berth::new();
    for (i, p) in ["rslave", "rshared", "private"].iter().enumerate() {
        let bundle = b.bundle(&format!("b{i}"), &["true"], |spec| {
            spec["linux"]["rootfsPropagation"] = serde_json::json!(p);
        });
        let (code, _, err) = run(&b, &bundle, &format!("c{i}"));
        assert_eq!(code, Some(0), "{p}: {err}");
    }
    let bundle = b.bundle("bad", &["true"], |spec| {
        spec["linux"]["rootfsPropagation"] = serde_json::json!("sideways");
    });
    let (_, _, err) = run(&b, &bundle, "bad");
    assert!(err.contains("rootfsPropagation `sideways`"), "{err}");
}

/// Container A holds the PID namespace; container B is created in it, so B's setup process
/// (berth's own binary, waiting for `start`) is visible from A. Returns A's output.
fn probe_setup_process_from_a_neighbour(b: &Berth, name: &str, add_ptrace: bool) -> String {
    // A waits for B to exist, then looks at every process named `exe` (the setup process).
    let script = "while [ ! -e /tmp/go ]; do sleep 0.02; done; \
        for p in $(ls /proc | grep -E '^[0-9]+$'); do \
          [ \"$(cat /proc/$p/comm 2>/dev/null)\" = exe ] || continue; \
          cat /proc/$p/environ >/dev/null 2>&1 && echo environ-read || echo environ-denied; \
          l=$(readlink /proc/$p/exe 2>/dev/null) && echo exe=$l || echo exe-denied; \
          (echo x >> /proc/$p/exe) 2>/dev/null && echo exe-written || echo exe-unwritable; \
        done";
    let a_bundle = b.bundle(&format!("{name}-a"), &["sh", "-c", script], |spec| {
        if add_ptrace {
            for set in ["bounding", "effective", "permitted"] {
                spec["process"]["capabilities"][set]
                    .as_array_mut()
                    .unwrap()
                    .push("CAP_SYS_PTRACE".into());
            }
        }
    });
    let a_id = format!("{name}-a");
    let out = b.oci_detached(&["run", "-d", "-b", a_bundle.to_str().unwrap(), &a_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let st: serde_json::Value = serde_json::from_slice(&b.oci(&["state", &a_id]).stdout).unwrap();
    let a_pid = st["pid"].as_i64().unwrap();
    let b_bundle = b.bundle(&format!("{name}-b"), &["true"], |spec| {
        for ns in spec["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "pid" {
                ns["path"] = format!("/proc/{a_pid}/ns/pid").into();
            }
        }
    });
    let b_id = format!("{name}-b");
    let out = b.oci_detached(&["create", "-b", b_bundle.to_str().unwrap(), &b_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A's output goes to the detached run's file; wait for A to finish.
    std::fs::write(a_bundle.join("rootfs/tmp/go"), "").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while crate::runtime::status(b, &a_id) != "stopped" {
        assert!(std::time::Instant::now() < deadline, "A never finished");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for id in [&a_id, &b_id] {
        assert!(b.oci(&["delete", "-f", id]).status.success());
    }
    std::fs::read_to_string(b.path().join("detached.out")).unwrap_or_default()
}

#[test]
fn the_setup_process_cannot_be_inspected_or_overwritten_from_a_shared_pid_namespace() {
    if !root_or_skip(
        "the_setup_process_cannot_be_inspected_or_overwritten_from_a_shared_pid_namespace",
    ) {
        return;
    }
    let b = Berth::new();
    // Without CAP_SYS_PTRACE: the setup process is not dumpable, so nothing of it is readable.
    let out = probe_setup_process_from_a_neighbour(&b, "plain", false);
    assert_eq!(out, "environ-denied\nexe-denied\nexe-unwritable\n");
    // With CAP_SYS_PTRACE: /proc/PID/exe opens, but it is a protected view of berth's binary
    // (a private read-only overlay: its path is the overlay's, `/berth-monitor`, not the host
    // file's).
    let out = probe_setup_process_from_a_neighbour(&b, "ptrace", true);
    let host_dir = std::path::Path::new(env!("CARGO_BIN_EXE_berth"))
        .parent()
        .unwrap();
    assert!(
        out.contains("exe=/berth") && !out.contains(host_dir.to_str().unwrap()),
        "{out}"
    );
    assert!(out.ends_with("exe-unwritable\n"), "{out}");
    assert!(!out.contains("exe-written"), "{out}");
}
