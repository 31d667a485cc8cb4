//! Health checks, run by the monitor: the check command is exec'd into the container every
//! interval (the first one an interval after the start), with a timeout; `retries` failures in
//! a row make the container unhealthy (failures during the start period do not count), one
//! success makes it healthy. The state goes to `<run>/<id>/health.json` (Docker's shape:
//! Status, FailingStreak, the last five results).

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::container::config::Health;
use crate::engine::container::records;
use crate::engine::runtime;

/// How many results the log keeps.
const KEEP: usize = 5;
/// Most output kept per result.
const MAX_OUTPUT: usize = 4096;

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
    output: PathBuf,
}

/// The monitor's health checker for one run of the container.
pub struct Checker {
    health: Health,
    id: String,
    runtime_root: PathBuf,
    run_dir: PathBuf,
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

impl Checker {
    pub fn new(health: Health, id: &str, runtime_root: PathBuf, run_dir: PathBuf) -> Checker {
        let now = Instant::now();
        let state = State {
            status: "starting".into(),
            failing_streak: 0,
            log: Vec::new(),
        };
        let _ = records::write(&run_dir.join("health.json"), &state);
        Checker {
            next: now + nanos(health.interval, Duration::from_secs(30)),
            health,
            id: id.to_string(),
            runtime_root,
            run_dir,
            container_started: now,
            running: None,
            state,
        }
    }

    /// When the checker next needs attention.
    pub fn deadline(&self) -> Instant {
        match &self.running {
            Some(r) => r.started + nanos(self.health.timeout, Duration::from_secs(30)),
            None => self.next,
        }
    }

    /// The PID of the check in flight (its exit arrives through the monitor's SIGCHLD).
    pub fn pid(&self) -> Option<i32> {
        self.running.as_ref().map(|r| r.pid)
    }

    fn process(&self) -> Option<oci_spec::runtime::Process> {
        let d = self.runtime_root.join(&self.id).join("config.json");
        let spec = oci_spec::runtime::Spec::load(d).ok()?;
        let mut p = spec.process().clone()?;
        let args = match self.health.test.first().map(String::as_str) {
            Some("CMD-SHELL") => vec![
                "/bin/sh".to_string(),
                "-c".to_string(),
                self.health.test[1..].join(" "),
            ],
            Some("CMD") => self.health.test[1..].to_vec(),
            _ => self.health.test.clone(),
        };
        p.set_args(Some(args));
        p.set_terminal(Some(false));
        Some(p)
    }

    /// Starts a check when one is due; kills one that ran past its timeout.
    pub fn tick(&mut self) {
        let now = Instant::now();
        if let Some(r) = &self.running {
            if now >= self.deadline() {
                if let Some(pg) = rustix::process::Pid::from_raw(r.pid) {
                    let _ = rustix::process::kill_process_group(pg, rustix::process::Signal::KILL);
                }
                // Its exit (a SIGKILL) arrives as a normal result; mark it as a timeout.
                let _ = std::fs::write(&r.output, "Health check exceeded timeout");
            }
            return;
        }
        if now < self.next {
            return;
        }
        let Some(p) = self.process() else {
            self.next = now + nanos(self.health.interval, Duration::from_secs(30));
            return;
        };
        let output = self.run_dir.join("health.out");
        let Ok(file) = std::fs::File::create(&output) else {
            return;
        };
        match runtime::exec_spawn(
            &self.runtime_root,
            &self.id,
            &p,
            runtime::Stdio::File(file),
            None,
        ) {
            Ok(child) => {
                self.running = Some(Running {
                    pid: child.id() as i32,
                    started: now,
                    started_at: records::now(),
                    output,
                });
                // The monitor reaps it (waitpid on any child); the handle is not needed.
                std::mem::forget(child);
            }
            Err(e) => {
                self.finish_with(-1, e.to_string(), now, records::now());
            }
        }
    }

    /// The check's process exited with `code`.
    pub fn finished(&mut self, code: i32) {
        let Some(r) = self.running.take() else {
            return;
        };
        let mut out = String::new();
        if let Ok(f) = std::fs::File::open(&r.output) {
            let _ = f.take(MAX_OUTPUT as u64).read_to_string(&mut out);
        }
        let _ = std::fs::remove_file(&r.output);
        let code = if out == "Health check exceeded timeout" {
            -1
        } else {
            code
        };
        self.finish_with(code, out, r.started, r.started_at);
    }

    /// Kills a check still running (the container stopped).
    pub fn abandon(&mut self) {
        if let Some(r) = self.running.take() {
            if let Some(pg) = rustix::process::Pid::from_raw(r.pid) {
                let _ = rustix::process::kill_process_group(pg, rustix::process::Signal::KILL);
            }
            let _ = std::fs::remove_file(&r.output);
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

#[cfg(test)]
mod tests {
    use super::*;

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
