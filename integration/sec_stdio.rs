//! No host terminal and no host file as a container process's standard streams (issue 14):
//! `berth exec` run from an operator's terminal (TIOCSTI into the host shell, a child left
//! behind reading later keystrokes), `-i`, `-t`, the container's first process, a detached
//! exec and health checks (their output was a host file on the run directory, unbounded).

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;

fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The probe every test runs in the container (static, so the busybox image can run it):
/// - `probe fds`: per standard descriptor, whether it is a terminal, what TIOCSTI of a few
///   bytes gives, where it points and its device:inode; the controlling terminal
///   (`/proc/self/stat`'s tty_nr) and the container's own /dev/null.
/// - `probe steal`: forks a child that outlives the exec, reports its descriptors in
///   /tmp/child-ready, reads its stdin and writes what it got to /tmp/stolen.
const PROBE: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static void where(int fd, char *link, size_t n, char *id, size_t m) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(path, link, n - 1);
    link[k < 0 ? 0 : k] = 0;
    if (k < 0) snprintf(link, n, "closed");
    struct stat st;
    if (fstat(fd, &st) == 0)
        snprintf(id, m, "%lu:%lu", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    else
        snprintf(id, m, "-");
}

static void write_file(const char *path, const char *text) {
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
    rename(tmp, path);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "fds") == 0) {
        char out[2048] = "";
        for (int fd = 0; fd <= 2; fd++) {
            char link[256], id[64], inj[8], line[512];
            where(fd, link, sizeof link, id, sizeof id);
            int tty = isatty(fd), injected = 0, err = 0;
            snprintf(inj, sizeof inj, "inj%d\r", fd);
            for (char *p = inj; *p; p++) {
                if (ioctl(fd, TIOCSTI, p) == 0) injected++; else err = errno;
            }
            snprintf(line, sizeof line, "fd %d tty=%d sti=%s link=%s id=%s\n", fd, tty,
                     injected ? "INJECTED" : strerror(err), link, id);
            strcat(out, line);
        }
        char stat_text[1024] = "";
        FILE *s = fopen("/proc/self/stat", "r");
        if (s) { fgets(stat_text, sizeof stat_text, s); fclose(s); }
        char *rest = strrchr(stat_text, ')');
        char state; int ppid, pgrp, session, tty_nr = -1;
        if (rest) sscanf(rest + 1, " %c %d %d %d %d", &state, &ppid, &pgrp, &session, &tty_nr);
        struct stat null;
        stat("/dev/null", &null);
        printf("%sctty=%d\ndevnull id=%lu:%lu\n", out, tty_nr, (unsigned long)null.st_dev,
               (unsigned long)null.st_ino);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "steal") == 0) {
        if (fork() == 0) {
            char text[1024] = "", link[256], id[64], line[400];
            for (int fd = 0; fd <= 2; fd++) {
                where(fd, link, sizeof link, id, sizeof id);
                snprintf(line, sizeof line, "fd %d link=%s tty=%d\n", fd, link, isatty(fd));
                strcat(text, line);
            }
            write_file("/tmp/child-ready", text);
            char buf[128];
            ssize_t n = read(0, buf, sizeof buf - 1);
            snprintf(text, sizeof text, "read %zd: %.*s", n, n > 0 ? (int)n : 0, buf);
            write_file("/tmp/stolen", text);
            _exit(0);
        }
        printf("parent done\n");
        return 0;
    }
    return 2;
}
"#;

/// Builds the probe (static) under the test's root; its path.
fn build_probe(b: &Berth) -> PathBuf {
    let src = b.path().join("probe.c");
    let bin = b.path().join("probe");
    if bin.exists() {
        return bin;
    }
    std::fs::write(&src, PROBE).unwrap();
    let cc = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("a C compiler (cc) to build the probe");
    assert!(cc.status.success(), "cc: {}", stderr(&cc));
    bin
}

/// An image `probe:1`: busybox and the static probe at /probe.
fn probe_image(b: &Berth) {
    let bin = build_probe(b);
    let mut t = tar::Builder::new(Vec::new());
    add_file(&mut t, "probe", &std::fs::read(&bin).unwrap(), 0o755);
    b.busybox_image_with(
        "probe:1",
        vec![t.into_inner().unwrap()],
        serde_json::json!({"Env": ["PATH=/bin"], "Cmd": ["sleep", "1000"]}),
    );
}

/// A pty the test holds: the operator's terminal. `slave` is opened non-blocking by the test
/// (what is left in its input queue is what a shell would read next); raw, so nothing echoes.
struct Terminal {
    master: OwnedFd,
    slave_path: String,
    slave: OwnedFd,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Terminal {
    fn open() -> Terminal {
        use rustix::pty::OpenptFlags;
        let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        rustix::pty::grantpt(&master).unwrap();
        rustix::pty::unlockpt(&master).unwrap();
        let slave_path = rustix::pty::ptsname(&master, Vec::new())
            .unwrap()
            .into_string()
            .unwrap();
        let slave = rustix::fs::open(
            slave_path.as_str(),
            rustix::fs::OFlags::RDWR
                | rustix::fs::OFlags::NOCTTY
                | rustix::fs::OFlags::NONBLOCK
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        let mut raw = rustix::termios::tcgetattr(&slave).unwrap();
        raw.make_raw();
        rustix::termios::tcsetattr(&slave, rustix::termios::OptionalActions::Now, &raw).unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let reader = rustix::io::dup(&master).unwrap();
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::File::from(reader);
            let mut buf = [0u8; 4096];
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Terminal {
            master,
            slave_path,
            slave,
            output,
        }
    }

    /// What is waiting in the terminal's input (bytes a shell would read and run).
    fn pending_input(&self) -> Vec<u8> {
        let mut buf = [0u8; 256];
        match rustix::io::read(&self.slave, &mut buf) {
            Ok(n) => buf[..n].to_vec(),
            Err(_) => Vec::new(),
        }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    fn type_in(&self, text: &[u8]) {
        std::fs::File::from(rustix::io::dup(&self.master).unwrap())
            .write_all(text)
            .unwrap();
    }
}

/// An operator's shell on `term` (a session whose controlling terminal it is) running `berth
/// ARGS` in the foreground, then staying (as a shell does): its exit code goes to a file.
struct Shell {
    child: std::process::Child,
    status: PathBuf,
}

impl Shell {
    fn run(b: &Berth, term: &Terminal, args: &[&str]) -> Shell {
        let status = b
            .path()
            .join(format!("status-{}", args.join("-").replace('/', "_")));
        let _ = std::fs::remove_file(&status);
        let tty = || {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&term.slave_path)
                .unwrap();
            Stdio::from(f)
        };
        let child = Command::new(tool("setsid", "util-linux"))
            .args(["--ctty", "sh", "-c"])
            .arg(r#"s="$1"; shift; "$@"; echo $? > "$s"; exec sleep 600"#)
            .arg("sh")
            .arg(&status)
            .arg(tool("nsenter", "util-linux"))
            .arg(format!("--net={}", b.netns().display()))
            .arg(env!("CARGO_BIN_EXE_berth"))
            .arg("--root")
            .arg(b.path().join("state"))
            .args(args)
            .stdin(tty())
            .stdout(tty())
            .stderr(tty())
            .spawn()
            .unwrap();
        Shell { child, status }
    }

    /// berth's exit code, once it returned.
    fn berth_code(&self, term: &Terminal) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(s) = std::fs::read_to_string(&self.status) {
                if let Ok(code) = s.trim().parse() {
                    return code;
                }
            }
            assert!(
                Instant::now() < deadline,
                "berth did not return; its terminal shows:\n{}",
                term.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `dev:ino` of the container's /dev/null and the `fd N` lines of `probe fds` output.
fn fd_lines(out: &str) -> (String, Vec<String>) {
    let null = out
        .lines()
        .find_map(|l| l.strip_prefix("devnull id="))
        .unwrap_or_else(|| panic!("no probe output:\n{out}"))
        .to_string();
    let fds: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("fd "))
        .map(String::from)
        .collect();
    assert_eq!(fds.len(), 3, "{out}");
    (null, fds)
}

/// Every standard descriptor of `probe fds` output: no terminal, no TIOCSTI, only a pipe or
/// the container's own /dev/null; no controlling terminal.
fn assert_contained(what: &str, out: &str) {
    let (null, fds) = fd_lines(out);
    for line in &fds {
        assert!(
            line.contains(" tty=0 "),
            "{what}: a terminal: {line}\n{out}"
        );
        assert!(
            !line.contains("sti=INJECTED"),
            "{what}: TIOCSTI went through: {line}"
        );
        let pipe = line.contains("link=pipe:");
        let own_null = line.contains("link=/dev/null") && line.ends_with(&format!("id={null}"));
        assert!(
            pipe || own_null,
            "{what}: not a pipe nor the container's /dev/null ({null}): {line}"
        );
    }
    assert!(
        out.contains("ctty=0\n"),
        "{what}: a controlling terminal:\n{out}"
    );
}

#[test]
fn exec_from_a_terminal_never_hands_it_to_the_container() {
    if !root_or_skip("exec_from_a_terminal_never_hands_it_to_the_container") {
        return;
    }
    let b = Berth::new();
    probe_image(&b);
    b.cli_ok(&["run", "-d", "--name", "web", "--network", "none", "probe:1"]);
    let term = Terminal::open();
    // TIOCSTI on each descriptor: nothing reaches the operator's terminal input.
    let shell = Shell::run(&b, &term, &["exec", "web", "/probe", "fds"]);
    assert_eq!(shell.berth_code(&term), 0, "{}", term.output());
    let injected = term.pending_input();
    assert!(
        injected.is_empty(),
        "the container typed into the operator's terminal: {:?}\n{}",
        String::from_utf8_lossy(&injected),
        term.output()
    );
    assert_contained("exec from a terminal", &term.output());
    drop(shell);
    // With -i: stdin is a pipe (still no terminal).
    let shell = Shell::run(&b, &term, &["exec", "-i", "web", "/probe", "fds"]);
    assert_eq!(shell.berth_code(&term), 0, "{}", term.output());
    assert!(term.pending_input().is_empty(), "{}", term.output());
    drop(shell);

    // A child left behind by the exec'd command reads what the operator types next.
    let shell = Shell::run(&b, &term, &["exec", "web", "/probe", "steal"]);
    assert_eq!(shell.berth_code(&term), 0, "{}", term.output());
    let cat = |path: &str| b.cli(&["exec", "web", "cat", path]);
    wait_until("the child's report", 20, || {
        cat("/tmp/child-ready").status.success()
    });
    let ready = stdout(&cat("/tmp/child-ready"));
    term.type_in(b"secret-password\n");
    wait_until("the child's read", 20, || {
        cat("/tmp/stolen").status.success()
    });
    let stolen = stdout(&cat("/tmp/stolen"));
    assert!(
        !stolen.contains("secret"),
        "a child of the exec read the operator's input: {stolen}\n{ready}"
    );
    assert!(!ready.contains("tty=1"), "{ready}");
    drop(shell);
    b.cli_ok(&["container", "rm", "-f", "web"]);
}

/// `berth ARGS` with `input` on stdin: (code, stdout, stderr), failing after `secs`.
fn run_with_input(b: &Berth, args: &[&str], input: &[u8], secs: u64) -> (i32, String, String) {
    let mut child = b
        .berth_cmd()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // The process may not read it: a write error is fine.
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    // Each stream read to its end in a thread; (0 = stdout / 1 = stderr, bytes) come back.
    let (tx, rx) = std::sync::mpsc::channel();
    let streams: [(usize, Box<dyn Read + Send>); 2] = [
        (0, Box::new(child.stdout.take().unwrap())),
        (1, Box::new(child.stderr.take().unwrap())),
    ];
    for (i, mut r) in streams {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            let _ = tx.send((i, s));
        });
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("berth {args:?} did not return within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // berth returned: its streams close now (unless something else holds them).
    let mut got = [String::new(), String::new()];
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(5);
        let (i, s) = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("berth {args:?} returned but its output stays open"));
        got[i] = String::from_utf8_lossy(&s).into_owned();
    }
    let [out, err] = got;
    (status.code().unwrap_or(-1), out, err)
}

#[test]
fn exec_streams_are_pipes_stdin_only_with_i_and_codes_come_through() {
    if !root_or_skip("exec_streams_are_pipes_stdin_only_with_i_and_codes_come_through") {
        return;
    }
    let b = Berth::new();
    probe_image(&b);
    b.cli_ok(&["run", "-d", "--name", "ex", "--network", "none", "probe:1"]);
    // -i passes stdin; without it the process reads nothing (docker exec's rule).
    let (code, out, _) = run_with_input(&b, &["exec", "-i", "ex", "cat"], b"data\n", 20);
    assert_eq!((code, out.as_str()), (0, "data\n"));
    let (code, out, _) = run_with_input(&b, &["exec", "ex", "cat"], b"data\n", 20);
    assert_eq!((code, out.as_str()), (0, ""), "stdin without -i");
    // The process's descriptors, the first process's and a detached exec's: pipes and the
    // container's own /dev/null, never a file or device node of the host.
    let (_, out, _) = run_with_input(&b, &["exec", "ex", "/probe", "fds"], b"", 20);
    assert_contained("exec", &out);
    let pid1 = stdout(&b.cli(&[
        "exec",
        "ex",
        "sh",
        "-c",
        "for i in 0 1 2; do echo \"$i $(readlink /proc/1/fd/$i) $(stat -L -c %d:%i /proc/1/fd/$i)\"; done; stat -c null=%d:%i /dev/null",
    ]));
    let null = pid1.lines().find_map(|l| l.strip_prefix("null=")).unwrap();
    for line in pid1.lines().filter(|l| !l.starts_with("null=")) {
        assert!(
            line.contains("pipe:") || line.ends_with(&format!("/dev/null {null}")),
            "the container's first process holds a host file: {line}\n{pid1}"
        );
    }
    b.cli_ok(&[
        "exec",
        "-d",
        "ex",
        "sh",
        "-c",
        "/probe fds > /tmp/detached 2>&1",
    ]);
    wait_until("the detached exec", 20, || {
        stdout(&b.cli(&["exec", "ex", "cat", "/tmp/detached"])).contains("devnull")
    });
    let out = stdout(&b.cli(&["exec", "ex", "cat", "/tmp/detached"]));
    let (null, fds) = fd_lines(&out);
    assert!(
        fds[0].ends_with(&format!("id={null}")),
        "a detached exec's stdin is the host's /dev/null: {out}"
    );
    // Exit codes and signals (128 + N), as before.
    for (script, want) in [
        ("exit 7", 7),
        ("kill -TERM $$", 143),
        ("kill -KILL $$", 137),
    ] {
        let (code, _, _) = run_with_input(&b, &["exec", "ex", "sh", "-c", script], b"", 20);
        assert_eq!(code, want, "{script}");
    }
    assert_eq!(b.cli(&["exec", "ex", "no-such"]).status.code(), Some(127));
    // Each stream keeps its order; a large output arrives whole.
    let (code, out, err) = run_with_input(
        &b,
        &[
            "exec",
            "ex",
            "sh",
            "-c",
            "i=0; while [ $i -lt 300 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done",
        ],
        b"",
        30,
    );
    assert_eq!(code, 0);
    let want = |p: &str| (0..300).map(|i| format!("{p}{i}\n")).collect::<String>();
    assert_eq!(out, want("out"));
    assert_eq!(err, want("err"));
    let (_, out, _) = run_with_input(
        &b,
        &[
            "exec",
            "ex",
            "sh",
            "-c",
            "head -c 3000000 /dev/zero | tr '\\0' x",
        ],
        b"",
        30,
    );
    assert_eq!(out.len(), 3_000_000);
    // A child that keeps stdout open does not hold `exec` (Docker gives the streams 2 s
    // after the process exits).
    let t = Instant::now();
    let (code, out, _) = run_with_input(
        &b,
        &["exec", "ex", "sh", "-c", "sleep 100 & echo started; exit 5"],
        b"",
        20,
    );
    assert_eq!((code, out.as_str()), (5, "started\n"));
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    b.cli_ok(&["container", "rm", "-f", "ex"]);
}

#[test]
fn exec_with_a_terminal_uses_the_containers_pty_and_ends_with_the_process() {
    if !root_or_skip("exec_with_a_terminal_uses_the_containers_pty_and_ends_with_the_process") {
        return;
    }
    let b = Berth::new();
    probe_image(&b);
    b.cli_ok(&["run", "-d", "--name", "tt", "--network", "none", "probe:1"]);
    let term = Terminal::open();
    let shell = Shell::run(&b, &term, &["exec", "-t", "tt", "/probe", "fds"]);
    assert_eq!(shell.berth_code(&term), 0, "{}", term.output());
    assert!(term.pending_input().is_empty(), "{}", term.output());
    let out = term.output();
    for line in out.lines().filter(|l| l.starts_with("fd ")) {
        assert!(line.contains("link=/dev/pts/"), "{line}\n{out}");
    }
    // Not the operator's terminal (whose name may be the same in the host's devpts).
    let st = rustix::fs::fstat(&term.slave).unwrap();
    let host = format!("id={}:{}", st.st_dev, st.st_ino);
    assert!(
        !out.contains(&host),
        "the operator's terminal ({host}):\n{out}"
    );
    drop(shell);
    // The relay ends with the process even when a child keeps the pty open (one that
    // ignores the hang-up its session leader's exit sends).
    let t = Instant::now();
    let (code, out, _) = run_with_input(
        &b,
        &[
            "exec",
            "-t",
            "tt",
            "sh",
            "-c",
            "trap '' HUP; sleep 100 & echo started; exit 3",
        ],
        b"",
        20,
    );
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("started"), "{out}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    // -t passes input only with -i.
    let script = "if read -t 3 l; then echo got:$l; else echo none; fi";
    let (_, out, _) = run_with_input(&b, &["exec", "-t", "tt", "sh", "-c", script], b"hi\n", 20);
    assert!(out.contains("none"), "input without -i: {out}");
    let (_, out, _) = run_with_input(
        &b,
        &["exec", "-i", "-t", "tt", "sh", "-c", script],
        b"hi\n",
        20,
    );
    assert!(out.contains("got:hi"), "{out}");
    b.cli_ok(&["container", "rm", "-f", "tt"]);
}

mod health;
mod runtime;
