//! Containers with their monitors (`berth run`, `berth container ...`) on a busybox image.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use crate::support::*;

fn inspect(b: &Berth, name: &str) -> serde_json::Value {
    b.inspect("container", name)
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// berth installed at a path of its own (`<test>/bin`), as a package would install it, with
/// `supervisor` as its berth-supervisor: the directory.
fn install(b: &Berth, supervisor: &str) -> std::path::PathBuf {
    let bin = b.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (from, name) in [
        (env!("CARGO_BIN_EXE_berth"), "berth"),
        (env!("CARGO_BIN_EXE_berth-monitor"), "berth-monitor"),
        (supervisor, "berth-supervisor"),
    ] {
        std::fs::copy(from, bin.join(name)).unwrap();
    }
    bin
}

/// Runs the berth [`install`] put in `bin` on the test's state root.
fn run_installed(b: &Berth, bin: &std::path::Path, args: &[&str]) -> std::process::Output {
    b.in_netns(bin.join("berth"))
        .arg("--root")
        .arg(b.path().join("state"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// Runs `cmd` with `input` on its stdin (then closed), collecting its output.
fn with_input(mut cmd: std::process::Command, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// The PID of a container's monitor (or the supervisor it handed over to).
fn monitor_pid(b: &Berth, name: &str) -> Option<i64> {
    let id = inspect(b, name)["Id"].as_str()?.to_string();
    let path = b
        .path()
        .join("state/run/containers")
        .join(id)
        .join("monitor.pid");
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    record["pid"].as_i64()
}

/// Mounts, cgroups and processes of a state root.
fn leftovers(b: &Berth) -> Vec<String> {
    let root = b.path().to_string_lossy().into_owned();
    let mut out: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&root) && !l.contains(&format!("{root}/netns ")))
        .map(String::from)
        .collect();
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(p.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let ours = ["__monitor", "__supervise", "__resume"];
            if ours.iter().any(|m| cmd.contains(m)) && cmd.contains(&root) {
                out.push(format!("process {cmd}"));
            }
        }
    }
    out
}

#[test]
fn run_streams_output_and_exits_with_the_code_then_rm_leaves_nothing() {
    if !root_or_skip("run_streams_output_and_exits_with_the_code_then_rm_leaves_nothing") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    let out = b.cli(&[
        "run",
        "--rm",
        "--name",
        "once",
        "-e",
        "GREETING=hi",
        "bb:1",
        "sh",
        "-c",
        "echo $GREETING from $(hostname); echo to-stderr >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("hi from "), "{}", stdout(&out));
    assert_eq!(stderr(&out), "to-stderr\n");
    assert_eq!(b.cli_ok(&["ps", "-aq"]), "", "--rm removed it");
    // Without --rm the container stays, exited, with its logs.
    let out = b.cli(&["run", "--name", "kept", "bb:1", "echo", "kept output"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = inspect(&b, "kept");
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 0);
    assert_eq!(v["Name"], "/kept");
    assert_eq!(b.cli_ok(&["logs", "kept"]), "kept output\n");
    let id = v["Id"].as_str().unwrap().to_string();
    assert_eq!(b.cli_ok(&["ps", "-aq", "--no-trunc"]).trim(), id);
    assert_eq!(
        inspect(&b, &id[..5])["Id"],
        id.as_str(),
        "a unique prefix works"
    );
    let err = stderr(&b.cli(&["run", "--name", "kept", "bb:1", "true"]));
    assert!(err.contains("`kept` is already in use"), "{err}");
    b.cli_ok(&["container", "rm", "kept"]);
    assert_eq!(leftovers(&b), Vec::<String>::new());
    assert!(std::fs::read_dir(b.path().join("state/containers"))
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn a_detached_container_outlives_its_cli_and_keeps_logging() {
    if !root_or_skip("a_detached_container_outlives_its_cli_and_keeps_logging") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    // A foreground `run` in its own process group, killed with SIGKILL as a whole.
    let mut cli = b.berth_cmd();
    cli.args([
        "run",
        "--name",
        "ticker",
        "bb:1",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done",
    ])
    .stdout(std::process::Stdio::null())
    .stderr(std::fs::File::create(b.path().join("cli.err")).unwrap());
    std::os::unix::process::CommandExt::process_group(&mut cli, 0);
    let mut child = cli.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(b.cli(&["container", "inspect", "ticker"]).status.success()
        && inspect(&b, "ticker")["State"]["Status"] == "running")
    {
        assert!(
            Instant::now() < deadline,
            "ticker never ran: {}",
            std::fs::read_to_string(b.path().join("cli.err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pgid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL).unwrap();
    let _ = child.wait();
    let lines = |b: &Berth| b.cli_ok(&["logs", "ticker"]).lines().count();
    let before = lines(&b);
    wait_until("more log lines after the CLI died", || {
        lines(&b) > before + 3
    });
    assert_eq!(inspect(&b, "ticker")["State"]["Status"], "running");
    let ps = b.cli_ok(&["ps"]);
    assert!(ps.contains("ticker") && ps.contains("Up "), "{ps}");
    let tail = b.cli_ok(&["logs", "--tail", "2", "ticker"]);
    assert_eq!(tail.lines().count(), 2, "{tail}");
    b.cli_ok(&["container", "rm", "-f", "ticker"]);
    assert_eq!(leftovers(&b), Vec::<String>::new());
}

#[test]
fn stop_takes_the_timeout_for_a_shell_that_ignores_term() {
    if !root_or_skip("stop_takes_the_timeout_for_a_shell_that_ignores_term") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    // PID 1 without a TERM handler: TERM does nothing, SIGKILL after the timeout.
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "stubborn",
        "bb:1",
        "sh",
        "-c",
        "while true; do sleep 0.05; done",
    ]);
    let t = Instant::now();
    b.cli_ok(&["container", "stop", "-t", "1", "stubborn"]);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_secs(1),
        "stop returned after {took:?}"
    );
    assert_eq!(inspect(&b, "stubborn")["State"]["ExitCode"], 137);
    // A shell that traps TERM exits at once with its own code.
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "polite",
        "bb:1",
        "sh",
        "-c",
        "trap 'exit 42' TERM; while true; do sleep 0.05; done",
    ]);
    let t = Instant::now();
    b.cli_ok(&["container", "stop", "polite"]);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(inspect(&b, "polite")["State"]["ExitCode"], 42);
    // restart starts it again.
    b.cli_ok(&["container", "restart", "-t", "0", "polite"]);
    assert_eq!(inspect(&b, "polite")["State"]["Status"], "running");
    b.cli_ok(&["container", "rm", "-f", "polite", "stubborn"]);
    assert_eq!(leftovers(&b), Vec::<String>::new());
}

#[test]
fn restart_policies_restart_exactly_as_often_as_asked() {
    if !root_or_skip("restart_policies_restart_exactly_as_often_as_asked") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "bb:1",
        "sh",
        "-c",
        "echo run; exit 1",
    ]);
    wait_until("flaky to give up", || {
        let v = inspect(&b, "flaky");
        v["State"]["Status"] == "exited"
    });
    let v = inspect(&b, "flaky");
    assert_eq!(v["RestartCount"], 2);
    assert_eq!(v["State"]["ExitCode"], 1);
    assert_eq!(
        b.cli_ok(&["logs", "flaky"]),
        "run\nrun\nrun\n",
        "one run and two restarts"
    );
    // A clean exit does not restart under on-failure; always does until stopped.
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "loop",
        "--restart",
        "always",
        "bb:1",
        "sh",
        "-c",
        "echo up; exit 0",
    ]);
    wait_until("three starts", || {
        b.cli_ok(&["logs", "loop"]).lines().count() >= 3
    });
    b.cli_ok(&["container", "stop", "loop"]);
    let runs = b.cli_ok(&["logs", "loop"]).lines().count();
    assert_eq!(inspect(&b, "loop")["State"]["Status"], "exited");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        b.cli_ok(&["logs", "loop"]).lines().count(),
        runs,
        "stop cancels the restarts"
    );
    b.cli_ok(&["container", "rm", "flaky", "loop"]);
}

#[test]
fn an_oom_kill_shows_in_inspect_and_limits_reach_the_container() {
    if !root_or_skip("an_oom_kill_shows_in_inspect_and_limits_reach_the_container") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    let out = b.cli(&[
        "run",
        "--name",
        "hog",
        "--memory",
        "16m",
        "bb:1",
        "sh",
        "-c",
        "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done",
    ]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    let v = inspect(&b, "hog");
    assert_eq!(v["State"]["OOMKilled"], true);
    assert_eq!(v["HostConfig"]["Memory"], 16 << 20);
    let out = b.cli(&["run", "--rm", "--pids-limit", "7", "--user", "nobody", "--read-only",
                      "--tmpfs", "/scratch", "--cap-drop", "ALL", "bb:1", "sh", "-c",
                      "id -u; touch /x 2>/dev/null || echo ro; touch /scratch/y && echo tmpfs-ok; grep CapEff /proc/self/status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "65534\nro\ntmpfs-ok\nCapEff:\t0000000000000000\n"
    );
    let err = stderr(&b.cli(&["run", "--rm", "--user", "ghost", "bb:1", "true"]));
    assert!(err.contains("unable to find user ghost"), "{err}");
    b.cli_ok(&["container", "rm", "hog"]);
    assert_eq!(leftovers(&b), Vec::<String>::new());
}

#[test]
fn ps_filters_and_formats() {
    if !root_or_skip("ps_filters_and_formats") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    b.cli_ok(&[
        "run", "-d", "--name", "a1", "-l", "tier=web", "bb:1", "sleep", "30",
    ]);
    b.cli_ok(&[
        "container",
        "create",
        "--name",
        "a2",
        "-l",
        "tier=db",
        "bb:1",
        "true",
    ]);
    assert_eq!(
        b.cli_ok(&["ps", "--format", "json"]).lines().count(),
        1,
        "ps: running only"
    );
    let all = b.cli_ok(&["ps", "-a", "--format", "json"]);
    let rows: Vec<serde_json::Value> = all
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r["Names"].as_str().unwrap()).collect();
    assert_eq!(names, ["a2", "a1"], "newest first");
    assert_eq!(rows[0]["State"], "created");
    let db = b.cli_ok(&["ps", "-a", "--filter", "label=tier=db", "--format", "json"]);
    assert!(db.contains("\"a2\"") && !db.contains("\"a1\""), "{db}");
    b.cli_ok(&["container", "start", "a2"]);
    assert_eq!(b.cli_ok(&["container", "wait", "a2"]).trim(), "0");
    b.cli_ok(&["container", "kill", "a1"]);
    assert_eq!(inspect(&b, "a1")["State"]["ExitCode"], 137);
    b.cli_ok(&["container", "rm", "a1", "a2"]);
    assert_eq!(leftovers(&b), Vec::<String>::new());
}

#[test]
fn pause_top_stats_and_init() {
    if !root_or_skip("pause_top_stats_and_init") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "p1",
        "-m",
        "32m",
        "bb:1",
        "sh",
        "-c",
        "sleep 300 & wait",
    ]);
    let top = b.cli_ok(&["container", "top", "p1"]);
    assert!(top.contains("sleep 300") && top.contains("sh -c"), "{top}");
    let stats = b.cli_ok(&[
        "container",
        "stats",
        "--no-stream",
        "--format",
        "json",
        "p1",
    ]);
    let s: serde_json::Value = serde_json::from_str(stats.trim()).unwrap();
    assert_eq!(s["MemLimit"], 32 << 20);
    assert_eq!(s["PIDs"], 2);
    b.cli_ok(&["container", "pause", "p1"]);
    assert_eq!(inspect(&b, "p1")["State"]["Status"], "paused");
    assert!(b.cli_ok(&["ps"]).contains("(Paused)"));
    b.cli_ok(&["container", "unpause", "p1"]);
    assert_eq!(inspect(&b, "p1")["State"]["Status"], "running");
    b.cli_ok(&["container", "rm", "-f", "p1"]);
    // --init: tini is PID 1 and reaps the orphans a shell leaves behind.
    let script = "(sleep 0.2 &); sleep 0.6; cat /proc/1/comm; ps -o stat | grep -c '^Z' || true";
    let out = b.cli(&["run", "--rm", "--init", "bb:1", "sh", "-c", script]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "docker-init\n0\n");
    assert_eq!(leftovers(&b), Vec::<String>::new());
}

#[test]
fn exec_joins_the_container_with_its_isolation() {
    if !root_or_skip("exec_joins_the_container_with_its_isolation") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "ex",
        "-e",
        "FOO=bar",
        "bb:1",
        "sh",
        "-c",
        "echo inside > /tmp/mark; sleep 300",
    ]);
    wait_until("the mark file", || {
        b.cli(&["exec", "ex", "test", "-e", "/tmp/mark"])
            .status
            .success()
    });
    let script =
        "echo $FOO $EXTRA; cat /tmp/mark; grep -E '^(CapEff|Seccomp):' /proc/self/status; \
                  test -e /proc/1/cmdline && cat /proc/1/comm; exit 4";
    let out = b.cli(&["exec", "-e", "EXTRA=more", "ex", "sh", "-c", script]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "bar more\ninside\nCapEff:\t00000000a80425fb\nSeccomp:\t2\nsleep\n"
    );
    // The container's process and an exec'd one are in the container's cgroup in every
    // hierarchy berth manages, cgroup2 included (they are forked into it, never moved); the
    // monitor, their parent, in none.
    let managed = |line: &str| {
        let controllers = line.split(':').nth(1).unwrap_or_default();
        controllers.is_empty()
            || controllers.split(',').any(|c| {
                [
                    "memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer",
                ]
                .contains(&c)
            })
    };
    let seen = b.cli_ok(&["exec", "ex", "cat", "/proc/self/cgroup"]);
    for line in seen.lines().filter(|l| managed(l)) {
        assert!(
            line.ends_with(":/"),
            "exec outside the container's cgroup: {seen}"
        );
    }
    let v = inspect(&b, "ex");
    let id = v["Id"].as_str().unwrap();
    let pid = v["State"]["Pid"].as_i64().unwrap();
    let host = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in host.lines().filter(|l| managed(l)) {
        assert!(line.ends_with(&format!("/berth/{id}")), "{host}");
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let monitor = status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .unwrap()
        .trim();
    let theirs = std::fs::read_to_string(format!("/proc/{monitor}/cgroup")).unwrap();
    assert!(
        !theirs.contains(id),
        "the monitor is in the container's cgroup: {theirs}"
    );
    assert_eq!(
        b.cli_ok(&[
            "exec",
            "-u",
            "nobody",
            "-w",
            "/tmp",
            "ex",
            "sh",
            "-c",
            "id -u; pwd"
        ]),
        "65534\n/tmp\n"
    );
    assert_eq!(
        b.cli(&["exec", "ex", "no-such-program"]).status.code(),
        Some(127)
    );
    b.cli_ok(&["exec", "-d", "ex", "sh", "-c", "echo detached > /tmp/d"]);
    wait_until("the detached exec", || {
        b.cli(&["exec", "ex", "test", "-e", "/tmp/d"])
            .status
            .success()
    });
    b.cli_ok(&["container", "stop", "-t", "0", "ex"]);
    let err = stderr(&b.cli(&["exec", "ex", "true"]));
    assert!(err.contains("exec needs a running container"), "{err}");
    b.cli_ok(&["container", "rm", "ex"]);
    assert_eq!(leftovers(&b), Vec::<String>::new());
}

#[test]
fn health_checks_go_unhealthy_then_healthy() {
    if !root_or_skip("health_checks_go_unhealthy_then_healthy") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "hc",
        "--health-cmd",
        "cat /tmp/ok",
        "--health-interval",
        "100ms",
        "--health-retries",
        "2",
        "--health-timeout",
        "2s",
        "bb:1",
        "sleep",
        "300",
    ]);
    let health = |b: &Berth| inspect(b, "hc")["State"]["Health"].clone();
    assert_eq!(health(&b)["Status"], "starting");
    wait_until("unhealthy", || health(&b)["Status"] == "unhealthy");
    assert!(health(&b)["FailingStreak"].as_u64().unwrap() >= 2);
    assert!(b.cli_ok(&["ps"]).contains("(unhealthy)"));
    b.cli_ok(&["exec", "hc", "sh", "-c", "echo fine > /tmp/ok"]);
    wait_until("healthy", || health(&b)["Status"] == "healthy");
    let log = health(&b)["Log"].as_array().unwrap().clone();
    assert_eq!(log.last().unwrap()["Output"], "fine\n");
    assert_eq!(log.last().unwrap()["ExitCode"], 0);
    assert!(log.len() <= 5);
    b.cli_ok(&["container", "rm", "-f", "hc"]);
    assert_eq!(leftovers(&b), Vec::<String>::new());
}

/// A container that runs a while: its monitor execs the small supervisor (same PID), which
/// keeps writing the log, runs health checks, passes attach input, and hands the exit back.
#[test]
fn a_long_running_containers_loop_moves_to_the_supervisor_and_back() {
    if !root_or_skip("a_long_running_containers_loop_moves_to_the_supervisor_and_back") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    b.cli_ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "long",
        "--health-cmd",
        "cat /tmp/ok",
        "--health-interval",
        "100ms",
        "--health-retries",
        "1",
        "bb:1",
        "sh",
        "-c",
        "echo start; while read l; do echo got $l; done; echo bye >&2; exit 7",
    ]);
    let pid = monitor_pid(&b, "long").expect("the monitor's record");
    let exe = || std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    wait_until("the hand-over", || {
        exe().file_name() == Some("berth-supervisor".as_ref())
    });
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "berth-superviso", "named for ps");
    // Health checks now start from the supervisor.
    let health = |b: &Berth| inspect(b, "long")["State"]["Health"].clone();
    wait_until("unhealthy", || health(&b)["Status"] == "unhealthy");
    b.cli_ok(&["exec", "long", "sh", "-c", "echo fine > /tmp/ok"]);
    wait_until("healthy", || health(&b)["Status"] == "healthy");
    // Input through an attach client; closing it closes the container's stdin.
    let mut attach = b.berth_cmd();
    attach.args(["container", "attach", "long"]);
    let out = with_input(attach, b"one\ntwo\n");
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stdout(&out), "got one\ngot two\n");
    // The monitor took the exit back: recorded, then gone.
    wait_until("the monitor to finish", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
    let v = inspect(&b, "long");
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 7);
    assert_eq!(v["State"]["Error"], "");
    let log = stdout(&b.cli(&["logs", "long"])) + &stderr(&b.cli(&["logs", "long"]));
    for line in ["start", "got one", "got two", "bye"] {
        assert!(log.contains(line), "{line} in the log: {log}");
    }
    b.cli_ok(&["container", "rm", "long"]);
    assert_eq!(leftovers(&b), Vec::<String>::new());
}

/// What a host reboot leaves: no processes, mounts, cgroups or run directory.
fn simulate_reboot(b: &Berth) {
    let state = b.path().join("state");
    for entry in std::fs::read_dir(state.join("run/containers"))
        .unwrap()
        .flatten()
    {
        let id = entry.file_name().to_string_lossy().into_owned();
        let pid_of = |file: &str| -> Option<i32> {
            let text = std::fs::read_to_string(entry.path().join(file)).ok()?;
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            v["pid"]
                .as_i64()
                .or(v["process"]["pid"].as_i64())
                .map(|p| p as i32)
        };
        for pid in [pid_of("monitor.pid"), pid_of("running.json")]
            .into_iter()
            .flatten()
        {
            let p = rustix::process::Pid::from_raw(pid).unwrap();
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            wait_until("a killed process to go", || {
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map_or(true, |s| s.contains(") Z "))
            });
        }
        let _ = rustix::mount::unmount(
            state.join("containers").join(&id).join("rootfs"),
            rustix::mount::UnmountFlags::DETACH,
        );
        // The container's network namespace (its veth goes with it).
        let _ = rustix::mount::unmount(
            entry.path().join("netns"),
            rustix::mount::UnmountFlags::DETACH,
        );
        for c in [
            "memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "unified",
            "systemd", "",
        ] {
            let _ = std::fs::remove_dir(
                std::path::Path::new("/sys/fs/cgroup")
                    .join(c)
                    .join("berth")
                    .join(&id),
            );
        }
    }
    // Nor do the networks' DNS servers.
    for entry in std::fs::read_dir(state.join("run/networks"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let text = std::fs::read_to_string(entry.path().join("dns.pid")).unwrap_or_default();
        if let Some(p) = text
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            let pid = p.as_raw_nonzero();
            wait_until("the DNS server to go", || {
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map_or(true, |s| s.contains(") Z "))
            });
        }
    }
    std::fs::remove_dir_all(state.join("run")).unwrap();
    // Bridges and berth's nft table do not survive a reboot either.
    let _ = b.in_netns("ip").args(["link", "del", "berth0"]).status();
    let _ = b
        .in_netns("nft")
        .args(["delete", "table", "ip", "berth"])
        .status();
}

#[test]
fn system_restore_brings_back_what_the_restart_policy_asks_for() {
    if !root_or_skip("system_restore_brings_back_what_the_restart_policy_asks_for") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    for (name, policy) in [
        ("al", "always"),
        ("us", "unless-stopped"),
        ("st", "unless-stopped"),
        ("no", "no"),
    ] {
        b.cli_ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            policy,
            "bb:1",
            "sleep",
            "300",
        ]);
    }
    b.cli_ok(&["container", "stop", "-t", "0", "st"]);
    simulate_reboot(&b);
    let restored = b.cli_ok(&["system", "restore"]);
    let mut names: Vec<&str> = restored.lines().collect();
    names.sort();
    assert_eq!(names, ["al", "us"]);
    for (name, status) in [("al", "running"), ("us", "running"), ("st", "exited")] {
        assert_eq!(inspect(&b, name)["State"]["Status"], status, "{name}");
    }
    assert!(b.cli_ok(&["system", "unit"]).contains("system restore"));
    // A corrupted record is named, skipped, and rm -f still removes its container.
    let id = inspect(&b, "st")["Id"].as_str().unwrap().to_string();
    std::fs::write(
        b.path()
            .join("state/containers")
            .join(&id)
            .join("exit.json"),
        "{garbage",
    )
    .unwrap();
    let out = b.cli(&["ps", "-a"]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("warning: container st") && stderr(&out).contains("exit.json"),
        "{}",
        stderr(&out)
    );
    for name in ["al", "us", "st", "no"] {
        b.cli_ok(&["container", "rm", "-f", name]);
    }
    assert_eq!(leftovers(&b), Vec::<String>::new());
}

#[test]
fn a_container_whose_monitor_died_is_reported_unsupervised_and_still_stops() {
    if !root_or_skip("a_container_whose_monitor_died_is_reported_unsupervised_and_still_stops") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    let id = b
        .cli_ok(&["run", "-d", "--name", "orphan", "bb:1", "sleep", "300"])
        .trim()
        .to_string();
    let monitor = b
        .path()
        .join("state/run/containers")
        .join(&id)
        .join("monitor.pid");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&monitor).unwrap()).unwrap();
    let pid = rustix::process::Pid::from_raw(v["pid"].as_i64().unwrap() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    wait_until("the monitor to die", || {
        std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero()))
            .map_or(true, |s| s.contains(") Z "))
    });
    let v = inspect(&b, "orphan");
    assert_eq!(
        v["State"]["Status"], "running",
        "never shown exited while it runs"
    );
    assert!(
        v["State"]["Error"].as_str().unwrap().contains("monitor"),
        "{v}"
    );
    assert!(b.cli_ok(&["ps"]).contains("(unsupervised)"));
    b.cli_ok(&["container", "stop", "-t", "0", "orphan"]);
    assert_eq!(inspect(&b, "orphan")["State"]["Status"], "exited");
    b.cli_ok(&["container", "rm", "orphan"]);
    assert_eq!(leftovers(&b), Vec::<String>::new());
    for c in ["memory", "pids", "cpu", "devices", "freezer", "unified"] {
        let dir = std::path::Path::new("/sys/fs/cgroup")
            .join(c)
            .join("berth")
            .join(&id);
        assert!(!dir.exists(), "cgroup left: {}", dir.display());
    }
}

/// Runs `berth ARGS` on a pty (through `script`), feeding it `input` once `ready` holds.
fn on_a_terminal(
    b: &Berth,
    args: &str,
    input: &[u8],
    ready: impl Fn() -> bool,
) -> std::process::Output {
    use std::io::Write;
    let cmd = format!(
        "stty rows 30 cols 100; exec nsenter --net={} {} --root {} {args}",
        b.netns().display(),
        env!("CARGO_BIN_EXE_berth"),
        b.path().join("state").display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script (bsdutils)");
    wait_until("the terminal session", &ready);
    // Our end stays open until the session ends: `script` turns the end of its input into a
    // byte on the terminal, which would reach the container as typed input.
    let mut keyboard = child.stdin.take().unwrap();
    keyboard.write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    drop(keyboard);
    out
}

#[test]
fn interactive_and_terminal_runs_attach_and_detach() {
    if !root_or_skip("interactive_and_terminal_runs_attach_and_detach") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    // -i: our stdin reaches the container, its end closes the container's stdin.
    let mut run = b.berth_cmd();
    run.args([
        "run",
        "--rm",
        "-i",
        "bb:1",
        "sh",
        "-c",
        "while read l; do echo got $l; done; echo bye >&2; exit 6",
    ]);
    let out = with_input(run, b"one\ntwo\n");
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert_eq!(stdout(&out), "got one\ngot two\n");
    assert_eq!(stderr(&out), "bye\n");
    // -t: a pty with the caller's size.
    let out = on_a_terminal(
        &b,
        "run --rm -t bb:1 sh -c 'tty; stty size; exit 3'",
        b"",
        || true,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out).replace('\r', "");
    assert!(text.contains("/dev/pts/0\n30 100\n"), "{text}");
    // -it, then Ctrl-P Ctrl-Q detaches; attach again and leave with an exit code.
    let running = |b: &Berth| {
        b.cli(&["container", "inspect", "t1"]).status.success()
            && inspect(b, "t1")["State"]["Status"] == "running"
    };
    let out = on_a_terminal(
        &b,
        "run -it --name t1 bb:1 sh",
        b"echo first\n\x10\x11",
        || running(&b),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let first_session = stdout(&out);
    let v = inspect(&b, "t1");
    assert_eq!(
        v["State"]["Status"],
        "running",
        "detached, still running: {}{}{v}\nlog: {}",
        stdout(&out),
        stderr(&out),
        stdout(&b.cli(&["logs", "t1"]))
    );
    // exec -t: a pty of the container's own, the caller's size.
    let out = on_a_terminal(&b, "exec -t t1 sh -c 'tty; stty size; exit 4'", b"", || {
        true
    });
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out).replace('\r', "");
    assert!(text.contains("/dev/pts/1\n30 100\n"), "{text}");
    let out = on_a_terminal(&b, "container attach t1", b"echo second\nexit 5\n", || true);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("second"), "{}", stdout(&out));
    let log = b.cli_ok(&["logs", "t1"]);
    assert!(
        log.contains("first"),
        "the log has the terminal's output: {log:?}; the first session saw {first_session:?}"
    );
    b.cli_ok(&["container", "rm", "t1"]);
    assert_eq!(leftovers(&b), Vec::<String>::new());
}

#[test]
fn a_detached_rm_container_is_gone_once_it_exits() {
    if !root_or_skip("a_detached_rm_container_is_gone_once_it_exits") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    let id = b.cli_ok(&[
        "run", "-d", "--rm", "--name", "brief", "bb:1", "sh", "-c", "exit 2",
    ]);
    let dir = b.path().join("state/containers").join(id.trim());
    wait_until("the monitor to finish", || {
        !b.path()
            .join("state/run/containers")
            .join(id.trim())
            .join("monitor.pid")
            .exists()
    });
    let err = stderr(&b.cli(&["container", "inspect", "brief"]));
    assert!(err.contains("no such container"), "{err}");
    assert!(!dir.exists(), "its files went with it");
    assert_eq!(leftovers(&b), Vec::<String>::new());
}

#[test]
fn monitors_keep_working_when_the_berth_binary_is_replaced() {
    if !root_or_skip("monitors_keep_working_when_the_berth_binary_is_replaced") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    let bin = install(&b, env!("CARGO_BIN_EXE_berth-supervisor"));
    let (installed, helper, supervisor) = (
        bin.join("berth"),
        bin.join("berth-monitor"),
        bin.join("berth-supervisor"),
    );
    let run = |args: &[&str]| run_installed(&b, &bin, args);
    let out = run(&[
        "run",
        "-d",
        "--name",
        "up",
        "--restart",
        "always",
        "bb:1",
        "sleep",
        "300",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The monitor's binary: its name, and its size (the upgrade below grows the files).
    let monitor_exe = || {
        monitor_pid(&b, "up")
            .and_then(|pid| {
                let exe = format!("/proc/{pid}/exe");
                let name = std::fs::read_link(&exe).ok()?;
                let m = std::fs::metadata(&exe).ok()?;
                Some((
                    name.to_string_lossy().into_owned(),
                    m.len(),
                    (m.dev(), m.ino()),
                ))
            })
            .unwrap_or_default()
    };
    let old_len = std::fs::metadata(&supervisor).unwrap().len();
    wait_until("the hand-over to the supervisor", || {
        monitor_exe().0.ends_with("/berth-supervisor")
    });
    // It runs a protected view of the installed file (CVE-2019-5736), not the file itself.
    let host = std::fs::metadata(&supervisor).unwrap();
    assert_ne!(monitor_exe().2, (host.dev(), host.ino()));
    // The upgrade: a new file (one byte longer) renamed over the old one (the running
    // monitor keeps its inode).
    for (from, to) in [
        (env!("CARGO_BIN_EXE_berth"), &installed),
        (env!("CARGO_BIN_EXE_berth-monitor"), &helper),
        (env!("CARGO_BIN_EXE_berth-supervisor"), &supervisor),
    ] {
        let staged = to.with_extension("new");
        std::fs::copy(from, &staged).unwrap();
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&staged)
            .unwrap()
            .write_all(b"\0")
            .unwrap();
        std::fs::rename(&staged, to).unwrap();
    }
    // Killing the container makes the old monitor restart it, re-executing its own binary.
    let pid = inspect(&b, "up")["State"]["Pid"].as_i64().unwrap() as i32;
    let p = rustix::process::Pid::from_raw(pid).unwrap();
    rustix::process::kill_process(p, rustix::process::Signal::KILL).unwrap();
    wait_until("the restart", || {
        let v = inspect(&b, "up");
        v["RestartCount"] == 1 && v["State"]["Status"] == "running"
    });
    // The supervisor handed the exit back to the old monitor, which restarted the container
    // and handed over again: to the old supervisor, the one it was started with.
    wait_until("the second hand-over, to the old supervisor", || {
        let (name, len, _) = monitor_exe();
        name.ends_with("/berth-supervisor") && len == old_len
    });
    let out = run(&["container", "stop", "-t", "0", "up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(inspect(&b, "up")["State"]["Status"], "exited");
    b.cli_ok(&["container", "rm", "up"]);
    assert_eq!(leftovers(&b), Vec::<String>::new());
}

/// A `berth-supervisor` of another build beside the monitor (here: not berth's at all) is
/// asked its hand-over version first, and the monitor keeps the loop itself.
#[test]
fn a_supervisor_from_another_build_is_not_handed_over_to() {
    if !root_or_skip("a_supervisor_from_another_build_is_not_handed_over_to") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    let bin = install(&b, "/bin/true");
    let run = |args: &[&str]| run_installed(&b, &bin, args);
    let out = run(&["run", "-d", "--name", "kept", "bb:1", "sleep", "300"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = inspect(&b, "kept")["Id"].as_str().unwrap().to_string();
    let monitor_log = b
        .path()
        .join("state/run/containers")
        .join(&id)
        .join("monitor.log");
    wait_until("the monitor to decline the hand-over", || {
        std::fs::read_to_string(&monitor_log).is_ok_and(|l| l.contains("keeps the loop"))
    });
    let log = std::fs::read_to_string(&monitor_log).unwrap();
    assert!(log.contains("hand-over version"), "{log}");
    let pid = monitor_pid(&b, "kept").unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "berth-monitor");
    let out = run(&["container", "stop", "-t", "1", "kept"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(inspect(&b, "kept")["State"]["Status"], "exited");
    b.cli_ok(&["container", "rm", "kept"]);
    assert_eq!(leftovers(&b), Vec::<String>::new());
}

/// A cgroup v2 host (most users'; this project's CI machine is hybrid): berth runs in a mount
/// namespace whose /sys/fs/cgroup is the cgroup2 hierarchy alone. The container starts in its
/// cgroup2 directory, the device filter (an eBPF program only v2 uses) loads and denies a
/// host disk, exec and pause work, and nothing is left.
#[test]
fn on_a_cgroup_v2_host_containers_start_exec_pause_and_leave_nothing() {
    if !root_or_skip("on_a_cgroup_v2_host_containers_start_exec_pause_and_leave_nothing") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("bb:1");
    let berth = |args: &str| {
        let script = format!(
            "mount --make-rprivate / && umount -l /sys/fs/cgroup && \
             mount -t cgroup2 none /sys/fs/cgroup && exec {} --root {} {args}",
            env!("CARGO_BIN_EXE_berth"),
            b.path().join("state").display()
        );
        let out = b
            .in_netns(tool("unshare", "util-linux"))
            .args(["-m", "sh", "-c", &script])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "berth {args}: {}", stderr(&out));
        stdout(&out)
    };
    let out = berth(
        "run --rm --network none bb:1 sh -c 'cat /proc/self/cgroup; \
         mknod /tmp/disk b 8 0 2>/dev/null && echo mknod-allowed; \
         head -c1 /dev/zero >/dev/null && echo zero-ok'",
    );
    assert!(
        out.lines().any(|l| l == "0::/"),
        "rooted at its cgroup: {out}"
    );
    assert!(!out.contains("mknod-allowed"), "{out}");
    assert!(out.contains("zero-ok"), "{out}");
    let id = berth("run -d --network none --name v2 bb:1 sleep 300");
    let id = id.trim();
    // Seen from the host's own cgroup2 mount (/sys/fs/cgroup/unified on a hybrid host).
    let unified = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(std::path::Path::new)
        .find(|p| p.join("cgroup.procs").exists())
        .expect("a cgroup2 mount");
    let procs = unified.join("berth").join(id).join("cgroup.procs");
    let pid = inspect(&b, "v2")["State"]["Pid"].as_i64().unwrap();
    assert!(
        std::fs::read_to_string(&procs)
            .unwrap()
            .lines()
            .any(|l| l == pid.to_string()),
        "the container's process is in {}",
        procs.display()
    );
    assert_eq!(berth("exec v2 sh -c 'echo hi'"), "hi\n");
    berth("container pause v2");
    let seen: serde_json::Value = serde_json::from_str(&berth("container inspect v2")).unwrap();
    let seen = seen.get(0).unwrap_or(&seen);
    assert_eq!(seen["State"]["Status"], "paused", "{seen}");
    berth("container unpause v2");
    berth("container rm -f v2");
    assert!(!unified.join("berth").join(id).exists(), "cgroup left");
    assert_eq!(leftovers(&b), Vec::<String>::new());
}
