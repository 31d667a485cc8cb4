//! Security issue 14, class 8: a mount target that an image symlink leads onto the kernel's
//! /proc or /sys (or onto the root itself) is refused by the runtime, naming what was asked
//! and where it led; a container setup that hangs never blocks the runtime, the monitor or
//! the CLI without a deadline; `rm -f` removes a container whose setup hung, leaving nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// Runs `cmd` with its output to files, killing it when it has not finished within `limit`.
fn output_within(b: &Berth, mut cmd: Command, limit: Duration) -> Result<Output, String> {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let out_path = b.path().join(format!("out-{n}"));
    let err_path = b.path().join(format!("err-{n}"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read(&out_path).unwrap_or_default();
    let stderr = std::fs::read(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => Err(format!(
            "{cmd:?} did not finish within {limit:?}:\n{}{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )),
    }
}

fn berth_within(b: &Berth, args: &[&str], limit: Duration) -> Result<Output, String> {
    let mut cmd = b.berth_cmd();
    cmd.args(args);
    output_within(b, cmd, limit)
}

fn oci_within(b: &Berth, args: &[&str], limit: Duration) -> Result<Output, String> {
    let mut cmd = Command::new(tool("unshare", "util-linux"));
    cmd.arg("--net")
        .arg(env!("CARGO_BIN_EXE_berth"))
        .arg("--root")
        .arg(b.path().join("state"))
        .arg("oci")
        .args(args);
    output_within(b, cmd, limit)
}

/// The symlinks a hostile image (or bundle root) holds: (path, link text).
const LINKS: [(&str, &str); 11] = [
    ("data", "/proc"),
    ("dotdot", "../proc"),
    ("psys", "/proc/sys"),
    ("etc/up", "../proc"),
    ("rel", "proc"),
    ("s", "/sys"),
    ("d", "/"),
    ("chain", "/chain2"),
    ("chain2", "proc"),
    ("c2s", "s"),
    ("okl", "/tmp"),
];

/// Destinations through those links: (spelled, where it leads inside the root).
const THROUGH: [(&str, &str); 9] = [
    ("/data", "/proc"),
    ("/dotdot", "/proc"),
    ("/psys", "/proc/sys"),
    ("/etc/up", "/proc"),
    ("/rel", "/proc"),
    ("/s", "/sys"),
    ("/d/proc/x", "/proc/x"),
    ("/chain", "/proc"),
    ("/c2s/kernel", "/sys/kernel"),
];

fn links_layer() -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    for (path, target) in LINKS {
        add_symlink(&mut t, path, target);
    }
    t.into_inner().unwrap()
}

/// The cgroup directories of `berth/<id>` in every hierarchy.
fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    let mut out: Vec<PathBuf> = std::fs::read_dir(base)
        .map(|d| {
            d.flatten()
                .map(|e| e.path().join("berth").join(id))
                .collect()
        })
        .unwrap_or_default();
    out.push(base.join("berth").join(id));
    out.retain(|p| p.exists());
    out
}

/// Monitors (or the supervisors they became) of this test's state root still running.
fn berth_processes(b: &Berth) -> Vec<String> {
    let root = b.path().to_string_lossy().into_owned();
    let mut out = Vec::new();
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(p.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let ours = ["__monitor", "__supervise", "__resume"];
            if cmd.contains(&root) && ours.iter().any(|m| cmd.contains(m)) {
                out.push(format!("process {cmd}"));
            }
        }
    }
    out
}

/// The `run` arguments that mount something at a destination (the case's number given).
type MountArgs<'a> = &'a dyn Fn(&str, usize) -> Vec<String>;

fn assert_refused(out: &Output, spelled: &str, resolved: &str) {
    let err = stderr(out);
    assert!(!out.status.success(), "{spelled} was mounted: {err}");
    assert!(
        err.contains(&format!(
            "mount destination {spelled} resolves to {resolved} "
        )),
        "the error names {spelled} and {resolved}: {err}"
    );
}

#[test]
fn cli_mount_targets_through_image_symlinks_into_proc_or_sys_are_refused() {
    if !root_or_skip("cli_mount_targets_through_image_symlinks_into_proc_or_sys_are_refused") {
        return;
    }
    let b = Berth::new();
    b.busybox_image_with(
        "links:1",
        vec![links_layer()],
        serde_json::json!({"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"]}),
    );
    let host = b.path().join("hostdir");
    std::fs::create_dir(&host).unwrap();
    let host = host.to_str().unwrap().to_string();
    let limit = Duration::from_secs(20);
    // Every way a mount is asked for: -v volume, -v bind, --mount volume/bind, --tmpfs.
    let kinds: [MountArgs<'_>; 5] = [
        &|dst, i| vec!["-v".into(), format!("hv{i}:{dst}")],
        &|dst, _| vec!["-v".into(), format!("{host}:{dst}")],
        &|dst, i| vec!["--mount".into(), format!("type=volume,src=hm{i},dst={dst}")],
        &|dst, _| vec!["--mount".into(), format!("type=bind,src={host},dst={dst}")],
        &|dst, _| vec!["--tmpfs".into(), dst.to_string()],
    ];
    let mut n = 0;
    for (spelled, resolved) in THROUGH {
        for kind in &kinds {
            n += 1;
            let name = format!("h{n}");
            let mut args: Vec<String> = ["run", "-d", "--name", &name].map(String::from).into();
            args.extend(kind(spelled, n));
            args.extend(["links:1", "sleep", "60"].map(String::from));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = berth_within(&b, &args, limit).unwrap_or_else(|e| panic!("{e}"));
            assert_refused(&out, spelled, resolved);
            let rm = berth_within(&b, &["container", "rm", "-f", &name], limit)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(rm.status.success(), "rm -f {name}: {}", stderr(&rm));
        }
    }
    // The image's own VOLUME through its link: the anonymous volume is refused the same way.
    b.busybox_image_with(
        "links:vol",
        vec![links_layer()],
        serde_json::json!({"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"],
                           "Volumes": {"/data": {}}}),
    );
    let out = berth_within(
        &b,
        &["run", "-d", "--name", "imgvol", "links:vol", "sleep", "60"],
        limit,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_refused(&out, "/data", "/proc");
    b.cli_ok(&["container", "rm", "-f", "-v", "imgvol"]);
    // A link that stays out of /proc and /sys still works: /okl leads to the root's /tmp.
    let out = b.cli_ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/okl",
        "links:1",
        "sh",
        "-c",
        "grep -c ' /tmp tmpfs ' /proc/mounts",
    ]);
    assert_eq!(out.trim(), "1", "the tmpfs landed on the root's /tmp");
    assert_eq!(b.cli_ok(&["ps", "-aq"]), "");
    assert!(mounts_of(&b).is_empty(), "{:?}", mounts_of(&b));
    assert!(berth_processes(&b).is_empty(), "{:?}", berth_processes(&b));
    assert!(
        std::fs::read_dir(&host).unwrap().next().is_none(),
        "nothing made in the bind source"
    );
}

/// Deletes (force) the OCI containers of a test when it ends, even on failure.
struct OciCleanup<'a> {
    b: &'a Berth,
    ids: Vec<String>,
}

impl Drop for OciCleanup<'_> {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = oci_within(self.b, &["delete", "--force", id], Duration::from_secs(30));
        }
    }
}

#[test]
fn oci_mount_destinations_through_rootfs_symlinks_into_proc_or_sys_are_refused() {
    if !root_or_skip("oci_mount_destinations_through_rootfs_symlinks_into_proc_or_sys_are_refused")
    {
        return;
    }
    let b = Berth::new();
    let mut cleanup = OciCleanup {
        b: &b,
        ids: Vec::new(),
    };
    let src = b.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let srcs = src.to_str().unwrap().to_string();
    let mut cases: Vec<(String, String, serde_json::Value)> = Vec::new();
    for (spelled, resolved) in THROUGH {
        cases.push((
            spelled.into(),
            resolved.into(),
            serde_json::json!({"destination": spelled, "type": "bind", "source": srcs,
                               "options": ["rbind", "rw"]}),
        ));
        cases.push((
            spelled.into(),
            resolved.into(),
            serde_json::json!({"destination": spelled, "type": "tmpfs", "source": "tmpfs",
                               "options": ["nosuid"]}),
        ));
    }
    // The cgroup view and a mount over the root itself, through links too.
    cases.push((
        "/data".into(),
        "/proc".into(),
        serde_json::json!({"destination": "/data", "type": "cgroup", "source": "cgroup",
                           "options": ["ro"]}),
    ));
    cases.push((
        "/d".into(),
        "/".into(),
        serde_json::json!({"destination": "/d", "type": "tmpfs", "source": "tmpfs"}),
    ));
    for (i, (spelled, resolved, mount)) in cases.into_iter().enumerate() {
        let id = format!("hang-{}-{i}", std::process::id());
        cleanup.ids.push(id.clone());
        let bundle = b.bundle(&format!("b{i}"), &["true"], |spec| {
            spec["mounts"].as_array_mut().unwrap().push(mount.clone());
        });
        let rootfs = bundle.join("rootfs");
        for (path, target) in LINKS {
            std::os::unix::fs::symlink(target, rootfs.join(path)).unwrap();
        }
        let out = oci_within(
            &b,
            &["run", "-b", bundle.to_str().unwrap(), &id],
            Duration::from_secs(20),
        )
        .unwrap_or_else(|e| panic!("{mount}: {e}"));
        assert_refused(&out, &spelled, &resolved);
        let list = b.oci(&["list", "-q"]);
        assert!(
            !stdout(&list).contains(&id),
            "a refused container is gone: {}",
            stdout(&list)
        );
        assert!(cgroup_dirs(&id).is_empty(), "{:?}", cgroup_dirs(&id));
    }
    assert!(
        std::fs::read_dir(&src).unwrap().next().is_none(),
        "nothing made in the bind source"
    );
}

#[test]
fn oci_start_of_a_stopped_setup_process_has_a_deadline_and_delete_force_cleans_up() {
    if !root_or_skip(
        "oci_start_of_a_stopped_setup_process_has_a_deadline_and_delete_force_cleans_up",
    ) {
        return;
    }
    let b = Berth::new();
    let id = format!("hangstop-{}", std::process::id());
    let _cleanup = OciCleanup {
        b: &b,
        ids: vec![id.clone()],
    };
    let bundle = b.bundle("b1", &["sleep", "60"], |_| {});
    let out = b.oci_detached(&["create", "-b", bundle.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let state: serde_json::Value = serde_json::from_slice(&b.oci(&["state", &id]).stdout).unwrap();
    assert_eq!(state["status"], "created");
    let pid = state["pid"].as_i64().unwrap() as i32;
    // The setup process stops before it can let `start` through: `start` gives up in time.
    let pid = rustix::process::Pid::from_raw(pid).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    let t = Instant::now();
    let out = oci_within(&b, &["start", &id], Duration::from_secs(30)).unwrap_or_else(|e| {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        panic!("{e}")
    });
    assert!(!out.status.success(), "started: {}", stdout(&out));
    assert!(
        stderr(&out).contains("did not start: its process did not pass the exec FIFO within"),
        "{}",
        stderr(&out)
    );
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    let out = oci_within(&b, &["delete", "--force", &id], Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&b.oci(&["state", &id])).contains("does not exist"));
    assert!(cgroup_dirs(&id).is_empty(), "{:?}", cgroup_dirs(&id));
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{}", pid.as_raw_nonzero())).exists() {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero()));
        if stat.is_ok_and(|s| s.contains(") Z ")) {
            break;
        }
        assert!(Instant::now() < deadline, "the setup process lives on");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The container's cgroup made frozen before its setup process joins it: the setup hangs,
/// deterministically, without ever reporting. Thawed, emptied and removed when dropped.
struct FrozenCgroup {
    id: String,
    dir: PathBuf,
    v2: bool,
}

impl FrozenCgroup {
    fn new(id: &str) -> FrozenCgroup {
        let base = Path::new("/sys/fs/cgroup");
        let v2 = base.join("cgroup.controllers").exists();
        let dir = if v2 {
            base.join("berth").join(id)
        } else {
            base.join("freezer/berth").join(id)
        };
        std::fs::create_dir_all(&dir).unwrap();
        let f = FrozenCgroup {
            id: id.to_string(),
            dir,
            v2,
        };
        f.set(true);
        f
    }

    fn set(&self, frozen: bool) {
        let (file, value) = match (self.v2, frozen) {
            (true, f) => ("cgroup.freeze", if f { "1" } else { "0" }),
            (false, true) => ("freezer.state", "FROZEN"),
            (false, false) => ("freezer.state", "THAWED"),
        };
        let _ = std::fs::write(self.dir.join(file), value);
    }

    fn pids(&self) -> Vec<i32> {
        std::fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

impl Drop for FrozenCgroup {
    fn drop(&mut self) {
        if self.dir.exists() {
            self.set(false);
            // The container's own processes only (this cgroup is the container's).
            for pid in self.pids() {
                if let Some(p) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                }
            }
        }
        // Its directories in every hierarchy (the runtime made them), once empty.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = cgroup_dirs(&self.id);
            for d in &left {
                let _ = std::fs::remove_dir(d);
            }
            if left.is_empty() || Instant::now() > deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn container_id(b: &Berth, name: &str) -> String {
    b.inspect("container", name)["Id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// What a removed container must not leave: its cgroups, mounts, processes, directories.
fn leftovers_of(b: &Berth, id: &str) -> Vec<String> {
    let mut out: Vec<String> = cgroup_dirs(id)
        .into_iter()
        .map(|d| format!("cgroup {}", d.display()))
        .collect();
    out.extend(mounts_of(b));
    out.extend(berth_processes(b));
    let state = b.path().join("state");
    for d in [
        state.join("containers").join(id),
        state.join("run/containers").join(id),
        state.join("run/runtime").join(id),
    ] {
        if d.exists() {
            out.push(format!("directory {}", d.display()));
        }
    }
    out
}

#[test]
fn rm_f_removes_a_container_whose_setup_hung() {
    if !root_or_skip("rm_f_removes_a_container_whose_setup_hung") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    b.cli_ok(&[
        "container",
        "create",
        "--name",
        "stuck",
        "bb:1",
        "sleep",
        "60",
    ]);
    let id = container_id(&b, "stuck");
    let frozen = FrozenCgroup::new(&id);
    let mut start = b.berth_cmd();
    start.args(["container", "start", "stuck"]);
    let starting = std::thread::spawn(move || {
        start
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
    });
    // The setup process is in the container's cgroup, frozen there, never reporting.
    let deadline = Instant::now() + Duration::from_secs(20);
    while frozen.pids().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the setup never joined its cgroup"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let setup: Vec<i32> = frozen.pids();
    let t = Instant::now();
    let rm = berth_within(
        &b,
        &["container", "rm", "-f", "stuck"],
        Duration::from_secs(25),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(rm.status.success(), "rm -f: {}", stderr(&rm));
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    // The start that was waiting returns, with an error.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !starting.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the waiting start never returned"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = starting.join().unwrap().unwrap();
    assert!(!out.status.success());
    assert_eq!(b.cli_ok(&["ps", "-aq"]), "");
    for pid in setup {
        let alive =
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
        assert!(!alive, "setup process {pid} lives on");
    }
    assert_eq!(leftovers_of(&b, &id), Vec::<String>::new());
    drop(frozen);
}

#[test]
fn a_setup_that_never_reports_fails_the_start_in_time_and_leaves_nothing() {
    if !root_or_skip("a_setup_that_never_reports_fails_the_start_in_time_and_leaves_nothing") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    b.cli_ok(&[
        "container",
        "create",
        "--name",
        "mute",
        "bb:1",
        "sleep",
        "60",
    ]);
    let id = container_id(&b, "mute");
    let frozen = FrozenCgroup::new(&id);
    let out = berth_within(&b, &["container", "start", "mute"], Duration::from_secs(90))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success(), "started");
    assert!(stderr(&out).contains("did not report"), "{}", stderr(&out));
    // The monitor cleaned up after the setup it gave up on: nothing of it is left running.
    assert!(frozen.pids().is_empty(), "{:?}", frozen.pids());
    // Its monitor records the failure and ends.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = b.inspect("container", "mute");
        if v["State"]["Status"] == "exited" {
            assert!(
                v["State"]["Error"]
                    .as_str()
                    .is_some_and(|e| e.contains("did not report")),
                "{v}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{v}");
        std::thread::sleep(Duration::from_millis(20));
    }
    b.cli_ok(&["container", "rm", "mute"]);
    assert_eq!(leftovers_of(&b, &id), Vec::<String>::new());
    drop(frozen);
}

#[test]
fn a_namespace_path_that_is_no_namespace_never_stalls_the_setup() {
    if !root_or_skip("a_namespace_path_that_is_no_namespace_never_stalls_the_setup") {
        return;
    }
    let b = Berth::new();
    let id = format!("hangstage1-{}", std::process::id());
    let _cleanup = OciCleanup {
        b: &b,
        ids: vec![id.clone()],
    };
    // Joining a PID namespace by path takes the first stage; its network namespace "path" is
    // a FIFO nobody writes to, which would block that stage for good: refused before anything
    // is made (the first stage's own deadline is unit-tested in runtime::waits).
    let fifo = b.path().join("not-a-namespace");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let fifo = fifo.to_str().unwrap().to_string();
    let own_pid_ns = format!("/proc/{}/ns/pid", std::process::id());
    let bundle = b.bundle("b1", &["true"], |spec| {
        for ns in spec["linux"]["namespaces"].as_array_mut().unwrap() {
            match ns["type"].as_str() {
                Some("pid") => ns["path"] = serde_json::json!(own_pid_ns),
                Some("network") => ns["path"] = serde_json::json!(fifo),
                _ => {}
            }
        }
    });
    let t = Instant::now();
    let out = oci_within(
        &b,
        &["create", "-b", bundle.to_str().unwrap(), &id],
        Duration::from_secs(60),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not a namespace file"),
        "{}",
        stderr(&out)
    );
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(stderr(&b.oci(&["state", &id])).contains("does not exist"));
    assert!(cgroup_dirs(&id).is_empty(), "{:?}", cgroup_dirs(&id));
}
