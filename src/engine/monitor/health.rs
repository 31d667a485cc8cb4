//! Health checks, run by the monitor: the check command is exec'd into the container every
//! interval (the first one an interval after the start), with a timeout; `retries` failures in
//! a row make the container unhealthy (failures during the start period do not count), one
//! success makes it healthy. The state goes to `<run>/<id>/health.json` (Docker's shape:
//! Status, FailingStreak, the last five results).
//!
//! A check's stdout and stderr are one pipe whose read end the loop polls (the monitor's or
//! the supervisor's): the first [`MAX_OUTPUT`] bytes are kept, the rest read and dropped,
//! and the end is closed when the check's process has exited, so a writer it left behind
//! gets EPIPE (SIGPIPE). Nothing of a check is a host file: it could not fill /run, nor
//! reach a host inode through /proc/self/fd.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::container::config::Health;
use crate::engine::container::records;
use crate::engine::runtime;

/// How many results the log keeps.
const KEEP: usize = 5;
/// Most output kept per result (Docker's; "..." is added when there was more).
const MAX_OUTPUT: usize = 4096;
/// Most read from a finished check's pipe before it is closed (a writer left behind could
/// keep it full forever).
const DRAIN_LIMIT: usize = 1 << 20;
/// What a timed-out check's result says (Docker's words).
const TIMED_OUT: &str = "Health check exceeded timeout";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Result {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    /// starting, healthy or unhealthy.
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<Result>,
}

/// Folds one result into the state (pure: unit-tested).
pub fn record(state: &mut State, result: Result, retries: u32, in_start_period: bool) {
    if result.exit_code == 0 {
        state.status = "healthy".into();
        state.failing_streak = 0;
    } else if !(in_start_period && state.status == "starting") {
        state.failing_streak += 1;
        if state.failing_streak >= retries.max(1) {
            state.status = "unhealthy".into();
        }
    }
    state.log.push(result);
    if state.log.len() > KEEP {
        state.log.remove(0);
    }
}

/// One check in flight.
struct Running {
    pid: i32,
    started: Instant,
    started_at: String,
    /// The read end of the check's stdout and stderr, until end-of-file.
    pipe: Option<OwnedFd>,
    output: Output,
    timed_out: bool,
}

/// A check's output as it is kept: the first [`MAX_OUTPUT`] bytes.
#[derive(Default)]
struct Output {
    kept: Vec<u8>,
    truncated: bool,
}

impl Output {
    fn add(&mut self, data: &[u8]) {
        let room = MAX_OUTPUT - self.kept.len();
        self.kept.extend_from_slice(&data[..data.len().min(room)]);
        self.truncated |= data.len() > room;
    }

    fn text(&self) -> String {
        let mut out = String::from_utf8_lossy(&self.kept).into_owned();
        if self.truncated {
            out.push_str("...");
        }
        out
    }
}

/// Reads what `pipe` holds now (non-blocking) into `output`, up to `limit` bytes; true at
/// end-of-file or an error.
fn read_pipe(pipe: &OwnedFd, output: &mut Output, scratch: &mut [u8], limit: usize) -> bool {
    let mut read = 0;
    while read < limit {
        match rustix::io::read(pipe, &mut *scratch) {
            Ok(0) => return true,
            Ok(n) => {
                output.add(&scratch[..n]);
                read += n;
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => return false,
            Err(_) => return true,
        }
    }
    false
}

/// Schedules a container's checks, runs them and keeps its health state.
pub struct Checker {
    health: Health,
    id: String,
    root: PathBuf,
    run_dir: PathBuf,
    /// The binary that runs a check (`berth-monitor __health ROOT ID`).
    exe: PathBuf,
    container_started: Instant,
    next: Instant,
    running: Option<Running>,
    state: State,
}

fn nanos(n: u64, default: Duration) -> Duration {
    if n == 0 {
        default
    } else {
        Duration::from_nanos(n)
    }
}

/// A checker between two checks, as the monitor hands it to its supervisor.
pub struct Idle {
    pub state: State,
    pub next: Instant,
    pub container_started: Instant,
}

impl Checker {
    /// The checker of a container that has just started; `exe` runs the checks.
    pub fn new(health: Health, id: &str, root: PathBuf, exe: PathBuf) -> Checker {
        let now = Instant::now();
        let state = State {
            status: "starting".into(),
            failing_streak: 0,
            log: Vec::new(),
        };
        let idle = Idle {
            state,
            next: now + nanos(health.interval, Duration::from_secs(30)),
            container_started: now,
        };
        let checker = Checker::resume(health, id, root, exe, idle);
        let _ = records::write(&checker.run_dir.join("health.json"), &checker.state);
        checker
    }

    /// A checker that goes on from `idle`.
    pub fn resume(health: Health, id: &str, root: PathBuf, exe: PathBuf, idle: Idle) -> Checker {
        Checker {
            run_dir: crate::engine::container::Paths::new(&root).run_dir(id),
            health,
            id: id.to_string(),
            root,
            exe,
            container_started: idle.container_started,
            next: idle.next,
            running: None,
            state: idle.state,
        }
    }

    /// The checker's state, when no check is running.
    pub fn idle(&self) -> Option<Idle> {
        self.running.is_none().then(|| Idle {
            state: self.state.clone(),
            next: self.next,
            container_started: self.container_started,
        })
    }

    /// When the next check is due, or the running one times out (one killed at its timeout
    /// wakes the loop when it is reaped).
    pub fn deadline(&self) -> Instant {
        match &self.running {
            Some(r) if r.timed_out => Instant::now() + Duration::from_secs(3600),
            Some(r) => r.started + nanos(self.health.timeout, Duration::from_secs(30)),
            None => self.next,
        }
    }

    /// The running check's process.
    pub fn pid(&self) -> Option<i32> {
        self.running.as_ref().map(|r| r.pid)
    }

    /// The running check's output pipe while it is open, for the loop to poll.
    pub fn output_fd(&self) -> Option<BorrowedFd<'_>> {
        self.running.as_ref()?.pipe.as_ref().map(|p| p.as_fd())
    }

    /// Takes what the running check wrote (the loop saw its pipe readable); `scratch` is
    /// the loop's read buffer.
    pub fn read_output(&mut self, scratch: &mut [u8]) {
        if let Some(r) = &mut self.running {
            if let Some(pipe) = &r.pipe {
                if read_pipe(pipe, &mut r.output, scratch, scratch.len() * 4) {
                    r.pipe = None;
                }
            }
        }
    }

    /// Starts a check when one is due; kills one that exceeded its timeout.
    pub fn tick(&mut self) {
        let now = Instant::now();
        let deadline = self.deadline();
        if let Some(r) = &mut self.running {
            if now >= deadline {
                if let Some(pg) = rustix::process::Pid::from_raw(r.pid) {
                    let _ = rustix::process::kill_process_group(pg, rustix::process::Signal::KILL);
                }
                r.timed_out = true;
            }
            return;
        }
        if now < self.next {
            return;
        }
        // The check runs in its own process group, so a timed-out one is killed with
        // everything it started. Its stdout and stderr: the write end of our pipe.
        use std::os::unix::process::CommandExt;
        let spawned = rustix::pipe::pipe_with(
            rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
        )
        .map_err(std::io::Error::from)
        .and_then(|(read, write)| {
            // The check's end blocks, as a pipe normally does (only ours polls).
            rustix::fs::fcntl_setfl(&write, rustix::fs::OFlags::empty())?;
            let err = write.try_clone()?;
            let child = std::process::Command::new(&self.exe)
                .arg0("berth-monitor")
                .arg("__health")
                .arg(&self.root)
                .arg(&self.id)
                .stdin(std::process::Stdio::null())
                .stdout(write)
                .stderr(err)
                .process_group(0)
                .spawn()?;
            Ok((child, read))
        });
        match spawned {
            Ok((child, pipe)) => {
                self.running = Some(Running {
                    pid: child.id() as i32,
                    started: now,
                    started_at: records::now(),
                    pipe: Some(pipe),
                    output: Output::default(),
                    timed_out: false,
                });
                // Reaped by the monitor's loop, which reaps every child.
                std::mem::forget(child);
            }
            Err(e) => {
                self.finish_with(-1, e.to_string(), now, records::now());
            }
        }
    }

    /// Records the running check's result (`code`: its exit code, 128 + signal if killed).
    /// What its pipe still holds is read (up to [`DRAIN_LIMIT`]), then the pipe is closed.
    pub fn finished(&mut self, code: i32, scratch: &mut [u8]) {
        let Some(mut r) = self.running.take() else {
            return;
        };
        if let Some(pipe) = r.pipe.take() {
            read_pipe(&pipe, &mut r.output, scratch, DRAIN_LIMIT);
        }
        let (code, out) = if r.timed_out {
            (-1, TIMED_OUT.to_string())
        } else {
            (code, r.output.text())
        };
        self.finish_with(code, out, r.started, r.started_at);
    }

    /// Kills a check still running (the container stopped) and closes its pipe.
    pub fn abandon(&mut self) {
        if let Some(r) = self.running.take() {
            if let Some(pg) = rustix::process::Pid::from_raw(r.pid) {
                let _ = rustix::process::kill_process_group(pg, rustix::process::Signal::KILL);
            }
        }
    }

    fn finish_with(&mut self, code: i32, output: String, started: Instant, started_at: String) {
        let in_start = started.duration_since(self.container_started)
            < Duration::from_nanos(self.health.start_period);
        let result = Result {
            start: started_at,
            end: records::now(),
            exit_code: code,
            output,
        };
        record(&mut self.state, result, self.health.retries, in_start);
        let _ = records::write(&self.run_dir.join("health.json"), &self.state);
        self.next = Instant::now() + nanos(self.health.interval, Duration::from_secs(30));
    }
}

/// `berth-monitor __health ROOT ID`: becomes container `id`'s health check command, exec'd
/// into the container with the container's process settings (the monitor's loop started this
/// process in its own group, with its pipe on stdout and stderr). Exits 126 when the check
/// cannot run.
pub fn check_main(root: &Path, id: &str) -> ! {
    let paths = crate::engine::container::Paths::new(root);
    let health = records::read::<records::MonitorConfig>(&paths.dir(id).join("monitor.json"))
        .and_then(|c| c.health);
    let runtime_root = paths.runtime_root();
    let process = health.as_ref().and_then(|h| {
        let spec = oci_spec::runtime::Spec::load(runtime_root.join(id).join("config.json")).ok()?;
        let mut p = spec.process().clone()?;
        p.set_args(Some(command(&h.test)));
        p.set_terminal(Some(false));
        Some(p)
    });
    let Some(process) = process else {
        eprintln!("berth: the container's health check or its process settings are unreadable");
        std::process::exit(126);
    };
    let e = runtime::exec_replace(&runtime_root, id, &process);
    eprintln!("berth: health check: {e}");
    std::process::exit(126);
}

/// The command of a check's `test` (Docker's forms: CMD-SHELL, CMD, or the bare command).
fn command(test: &[String]) -> Vec<String> {
    match test.first().map(String::as_str) {
        Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")],
        Some("CMD") => test[1..].to_vec(),
        _ => test.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keeps_the_first_4096_bytes_and_marks_more() {
        let mut o = Output::default();
        o.add(&[b'a'; 4000]);
        o.add(&[b'b'; 96]);
        assert_eq!(o.text().len(), 4096, "exactly the limit: no mark");
        o.add(b"c");
        o.add(&[b'd'; 10_000]);
        let text = o.text();
        assert_eq!(text.len(), 4096 + 3);
        assert!(
            text.starts_with("aaa") && text.ends_with("bbb..."),
            "{text}"
        );
    }

    #[test]
    fn a_pipe_a_writer_keeps_full_is_read_within_the_limit_then_closed() {
        let (r, w) = rustix::pipe::pipe_with(
            rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
        )
        .unwrap();
        rustix::fs::fcntl_setfl(&w, rustix::fs::OFlags::empty()).unwrap();
        // A writer left behind: writes until the pipe breaks.
        let writer = std::thread::spawn(move || {
            let chunk = [b'x'; 4096];
            loop {
                match rustix::io::write(&w, &chunk) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return e,
                }
            }
        });
        let mut out = Output::default();
        let mut scratch = vec![0u8; 32 * 1024];
        // Each call returns although the writer never stops; what is kept stays bounded.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !out.truncated {
            assert!(!read_pipe(&r, &mut out, &mut scratch, DRAIN_LIMIT));
            assert!(Instant::now() < deadline, "the writer wrote nothing more");
        }
        assert_eq!(out.kept.len(), MAX_OUTPUT);
        drop(r);
        assert_eq!(writer.join().unwrap(), rustix::io::Errno::PIPE);
    }

    fn r(code: i32) -> Result {
        Result {
            start: String::new(),
            end: String::new(),
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn streaks_and_start_period() {
        let mut s = State {
            status: "starting".into(),
            failing_streak: 0,
            log: Vec::new(),
        };
        record(&mut s, r(1), 2, true);
        assert_eq!(
            (s.status.as_str(), s.failing_streak),
            ("starting", 0),
            "start period"
        );
        record(&mut s, r(1), 2, false);
        assert_eq!(s.status, "starting");
        record(&mut s, r(1), 2, false);
        assert_eq!((s.status.as_str(), s.failing_streak), ("unhealthy", 2));
        record(&mut s, r(0), 2, false);
        assert_eq!((s.status.as_str(), s.failing_streak), ("healthy", 0));
        for _ in 0..10 {
            record(&mut s, r(0), 2, false);
        }
        assert_eq!(s.log.len(), KEEP);
    }
}
