//! The same rules where the runtime starts a container's first process, and signals still
//! reaching a process that now leads a session of its own.

use super::*;

/// `berth oci run` passes the caller's streams (runc's design), but the process leads a
/// session of its own: the caller's terminal is not its controlling one, so TIOCSTI into it
/// fails, as with runc.
#[test]
fn oci_run_from_a_terminal_cannot_type_into_it() {
    if !root_or_skip("oci_run_from_a_terminal_cannot_type_into_it") {
        return;
    }
    let b = Berth::new();
    let probe = build_probe(&b);
    let bundle = b.bundle("b1", &["/probe", "fds"], |_| {});
    std::fs::copy(&probe, bundle.join("rootfs/probe")).unwrap();
    let term = Terminal::open();
    let shell = Shell::run(
        &b,
        &term,
        &["oci", "run", "-b", bundle.to_str().unwrap(), &b.id("c1")],
    );
    assert_eq!(shell.berth_code(&term), 0, "{}", term.output());
    let injected = term.pending_input();
    assert!(
        injected.is_empty(),
        "the container typed into the operator's terminal: {:?}\n{}",
        String::from_utf8_lossy(&injected),
        term.output()
    );
    let out = term.output();
    assert!(!out.contains("sti=INJECTED"), "{out}");
    assert!(out.contains("ctty=0\n"), "a controlling terminal:\n{out}");
}

/// What the terminal's ^C (or a `kill`) sends berth still reaches the process: `exec`'s
/// stage 1 and a foreground `oci run` pass it on.
#[test]
fn signals_reach_a_process_in_its_own_session() {
    if !root_or_skip("signals_reach_a_process_in_its_own_session") {
        return;
    }
    let b = Berth::new();
    probe_image(&b);
    b.cli_ok(&["run", "-d", "--name", "sig", "--network", "none", "probe:1"]);
    // ^C: SIGINT to berth's process group (berth and stage 1).
    let script = "trap 'echo int > /tmp/got; exit 9' INT; echo ready; \
                  while :; do sleep 0.1; done";
    let mut child = b
        .berth_cmd()
        .args(["exec", "sig", "sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut line = [0u8; 6];
    child.stdout.take().unwrap().read_exact(&mut line).unwrap();
    assert_eq!(&line, b"ready\n");
    let group = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process_group(group, rustix::process::Signal::INT).unwrap();
    let _ = child.wait();
    wait_until("the process to get SIGINT", 20, || {
        b.cli(&["exec", "sig", "cat", "/tmp/got"]).status.success()
    });
    let top = stdout(&b.cli(&["container", "top", "sig"]));
    assert!(
        !top.contains("while"),
        "the exec'd shell still runs:\n{top}"
    );
    b.cli_ok(&["container", "rm", "-f", "sig"]);

    // A foreground `oci run` forwards a signal to the container's process, as runc run does.
    let bundle = b.bundle(
        "b2",
        &[
            "sh",
            "-c",
            "trap 'echo got-term; exit 9' TERM; echo ready; while :; do sleep 0.1; done",
        ],
        |_| {},
    );
    let mut child = b.oci_spawn_output(&["run", "-b", bundle.to_str().unwrap(), &b.id("c2")]);
    let mut line = [0u8; 6];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut line)
        .unwrap();
    assert_eq!(&line, b"ready\n");
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = b.oci(&["delete", "-f", &b.id("c2")]);
            let _ = child.kill();
            panic!("oci run did not end after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // The rest of the output: its end comes once the container's process is gone (the
    // container is deleted first, so a process left behind cannot hold it).
    let (tx, rx) = std::sync::mpsc::channel();
    let mut out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest);
        let _ = tx.send(rest);
    });
    let _ = b.oci(&["delete", "-f", &b.id("c2")]);
    let rest = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
    assert_eq!(status.code(), Some(9), "{status:?}, output: {rest}");
    assert!(rest.contains("got-term"), "{rest}");
}

/// The first process of a container started with `-t` has the container's pty (of its own
/// devpts), with `-i` a pipe for stdin.
#[test]
fn a_containers_first_process_has_only_its_own_pty_or_pipes() {
    if !root_or_skip("a_containers_first_process_has_only_its_own_pty_or_pipes") {
        return;
    }
    let b = Berth::new();
    probe_image(&b);
    let look = "for i in 0 1 2; do echo \"$i $(readlink /proc/1/fd/$i) $(stat -L -c %d /proc/1/fd/$i)\"; done; \
                stat -c pts=%d /dev/pts/ptmx";
    b.cli_ok(&[
        "run",
        "-d",
        "-t",
        "--name",
        "tt",
        "--network",
        "none",
        "probe:1",
    ]);
    let out = stdout(&b.cli(&["exec", "tt", "sh", "-c", look]));
    let pts = out.lines().find_map(|l| l.strip_prefix("pts=")).unwrap();
    for line in out.lines().filter(|l| !l.starts_with("pts=")) {
        assert!(
            line.contains("/dev/pts/") && line.ends_with(&format!(" {pts}")),
            "not the container's pty: {line}\n{out}"
        );
    }
    b.cli_ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "ii",
        "--network",
        "none",
        "probe:1",
    ]);
    let out = stdout(&b.cli(&["exec", "ii", "sh", "-c", look]));
    for line in out.lines().filter(|l| !l.starts_with("pts=")) {
        assert!(line.contains("pipe:"), "{line}\n{out}");
    }
    for name in ["tt", "ii"] {
        b.cli_ok(&["container", "rm", "-f", name]);
    }
}
