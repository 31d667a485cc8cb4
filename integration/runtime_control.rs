//! Driving live containers: a terminal through a console socket, pause and resume, events
//! (statistics and OOM kills), list, and `run --detach`.

use std::io::Read;
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use crate::runtime::status;
use crate::support::*;

fn wait_for_status(b: &Berth, id: &str, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(b, id) != wanted {
        assert!(Instant::now() < deadline, "{id} never became {wanted}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Accepts one connection within 10 s.
fn accept(listener: &UnixListener) -> std::os::unix::net::UnixStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                return s;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    Instant::now() < deadline,
                    "nobody connected to the console socket"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

#[test]
fn a_terminal_reaches_the_console_socket() {
    if !root_or_skip("a_terminal_reaches_the_console_socket") {
        return;
    }
    let b = Berth::new();
    let socket = b.path().join("console.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let script =
        "tty; stty size; test -t 0 && test -t 1 && echo all-tty; ls -l /dev/console | cut -c1";
    let bundle = b.bundle("b1", &["sh", "-c", script], |spec| {
        spec["process"]["terminal"] = serde_json::json!(true);
        spec["process"]["consoleSize"] = serde_json::json!({"height": 30, "width": 100});
    });
    let mut child = b.oci_spawn(&[
        "run",
        "--console-socket",
        socket.to_str().unwrap(),
        "-b",
        bundle.to_str().unwrap(),
        &b.id("c1"),
    ]);
    let conn = accept(&listener);
    let (master, name) = berth::engine::runtime::terminal::recv_fd(&conn).unwrap();
    assert!(name.starts_with("/dev/pts/"), "{name}");
    let mut master = std::fs::File::from(master);
    let mut text = Vec::new();
    let mut buf = [0u8; 1024];
    // Read until the container closes its side (EIO).
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&text).replace('\r', "");
    assert_eq!(child.wait().unwrap().code(), Some(0), "{text}");
    assert_eq!(text, "/dev/pts/0\n30 100\nall-tty\nc\n");
}

#[test]
fn a_terminal_without_a_socket_is_a_clear_error_for_create() {
    if !root_or_skip("a_terminal_without_a_socket_is_a_clear_error_for_create") {
        return;
    }
    let b = Berth::new();
    let bundle = b.bundle("b1", &["true"], |spec| {
        spec["process"]["terminal"] = serde_json::json!(true);
    });
    let out = b.oci_detached(&["create", "-b", bundle.to_str().unwrap(), &b.id("c1")]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--console-socket"),
        "{}",
        stderr(&out)
    );
    assert!(b.state_files().iter().all(|f| !f.starts_with("runtime/c1")));
}

#[test]
fn pause_freezes_and_resume_thaws() {
    if !root_or_skip("pause_freezes_and_resume_thaws") {
        return;
    }
    let b = Berth::new();
    // PID 1 of a PID namespace only takes the signals it handles: trap TERM.
    let script = "trap 'exit 3' TERM; while true; do sleep 0.05; done";
    let bundle = b.bundle("b1", &["sh", "-c", script], |_| {});
    let bundle = bundle.to_str().unwrap();
    assert!(b
        .oci_detached(&["create", "-b", bundle, &b.id("c1")])
        .status
        .success());
    let out = b.oci(&["pause", &b.id("c1")]);
    assert!(
        stderr(&out).contains("is created; pause needs it running"),
        "{}",
        stderr(&out)
    );
    assert!(b.oci(&["start", &b.id("c1")]).status.success());
    let st: serde_json::Value =
        serde_json::from_slice(&b.oci(&["state", &b.id("c1")]).stdout).unwrap();
    let pid = st["pid"].as_i64().unwrap();
    // Pause only once the shell has its TERM trap (a signal before it is ignored by PID 1).
    let deadline = Instant::now() + Duration::from_secs(10);
    let caught = || {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .is_some_and(|m| m & (1 << (libc::SIGTERM - 1)) != 0)
    };
    while !caught() {
        assert!(Instant::now() < deadline, "the shell never trapped TERM");
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = b.oci(&["pause", &b.id("c1")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(status(&b, &b.id("c1")), "paused");
    // A frozen process handles no signal until it is thawed.
    assert!(b.oci(&["kill", &b.id("c1"), "TERM"]).status.success());
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        status(&b, &b.id("c1")),
        "paused",
        "a frozen process does not die"
    );
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let out = b.oci(&["resume", &b.id("c1")]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for_status(&b, &b.id("c1"), "stopped");
    assert!(b.oci(&["delete", &b.id("c1")]).status.success());
    // delete --force of a paused container.
    assert!(b
        .oci_detached(&["run", "-d", "-b", bundle, &b.id("c2")])
        .status
        .success());
    assert!(b.oci(&["pause", &b.id("c2")]).status.success());
    let out = b.oci(&["delete", "--force", &b.id("c2")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(b.state_files().iter().all(|f| !f.starts_with("runtime/c2")));
}

#[test]
fn events_report_statistics_and_oom_kills() {
    if !root_or_skip("events_report_statistics_and_oom_kills") {
        return;
    }
    let b = Berth::new();
    // The process waits for a file, then grows past its 16 MiB limit.
    let script = "while [ ! -e /tmp/go ]; do sleep 0.05; done; x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done";
    let bundle = b.bundle("b1", &["sh", "-c", script], |spec| {
        spec["linux"]["resources"]["memory"] =
            serde_json::json!({"limit": 16 << 20, "swap": 16 << 20});
    });
    let out = b.oci_detached(&["run", "-d", "-b", bundle.to_str().unwrap(), &b.id("c1")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stats = b.oci(&["events", "--stats", &b.id("c1")]);
    let v: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(v["type"], "stats");
    assert_eq!(v["data"]["memory"]["limit"], 16 << 20);
    assert!(v["data"]["memory"]["usage"].as_u64().unwrap() > 0, "{v}");
    assert!(v["data"]["pids"]["current"].as_u64().unwrap() >= 1, "{v}");
    let events = b.oci_spawn_output(&["events", "--interval", "60", &b.id("c1")]);
    // The watcher is up once it holds its eventfd (v1) or inotify descriptor (v2); then the
    // allocation starts. events exits when the container's process does.
    let fd_dir = format!("/proc/{}/fd", events.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_dir(&fd_dir).unwrap().flatten().any(|e| {
        std::fs::read_link(e.path()).is_ok_and(|l| {
            l.to_string_lossy().contains("eventfd") || l.to_string_lossy().contains("inotify")
        })
    }) {
        assert!(Instant::now() < deadline, "events never watched the cgroup");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::write(bundle.join("rootfs/tmp/go"), "").unwrap();
    let out = events.wait_with_output().unwrap();
    let text = stdout(&out);
    assert!(text.contains(r#""type":"oom""#), "{text}{}", stderr(&out));
    assert!(b.oci(&["delete", &b.id("c1")]).status.success());
}

#[test]
fn list_shows_every_container_and_detach_returns_at_once() {
    if !root_or_skip("list_shows_every_container_and_detach_returns_at_once") {
        return;
    }
    let b = Berth::new();
    let bundle = b.bundle("b1", &["sleep", "60"], |_| {});
    let bundle = bundle.to_str().unwrap();
    assert!(b
        .oci_detached(&["create", "-b", bundle, "a1"])
        .status
        .success());
    assert!(b
        .oci_detached(&["run", "-d", "-b", bundle, "a2"])
        .status
        .success());
    assert_eq!(status(&b, "a2"), "running");
    let all: serde_json::Value =
        serde_json::from_slice(&b.oci(&["list", "--format", "json"]).stdout).unwrap();
    let pairs: Vec<(String, String)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().into(),
                c["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("a1".into(), "created".into()),
            ("a2".into(), "running".into())
        ]
    );
    assert_eq!(stdout(&b.oci(&["list", "-q"])), "a1\na2\n");
    for id in ["a1", "a2"] {
        assert!(b.oci(&["delete", "-f", id]).status.success());
    }
}

#[test]
fn called_as_berth_runc_it_takes_runcs_command_line() {
    if !root_or_skip("called_as_berth_runc_it_takes_runcs_command_line") {
        return;
    }
    let b = Berth::new();
    let runc = b.path().join("berth-runc");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_berth"), &runc).unwrap();
    let state = b.path().join("runc-state");
    let log = b.path().join("runc.log");
    let bundle = b.bundle("b1", &["sh", "-c", "exit 3"], |_| {});
    let run = |args: &[&str]| {
        std::process::Command::new(tool("unshare", "util-linux"))
            .arg("--net")
            .arg(&runc)
            .arg("--root")
            .arg(&state)
            .arg("--log")
            .arg(&log)
            .args(["--log-format", "json"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["run", "--bundle", bundle.to_str().unwrap(), "r1"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = run(&["state", "r1"]);
    assert!(!out.status.success());
    let logged = std::fs::read_to_string(&log).unwrap();
    let line: serde_json::Value = serde_json::from_str(logged.lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(
        line["msg"]
            .as_str()
            .unwrap()
            .contains("`r1` does not exist"),
        "{logged}"
    );
    assert!(
        state.is_dir(),
        "--root is the runtime's own state directory"
    );
}
