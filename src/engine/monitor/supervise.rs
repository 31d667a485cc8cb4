//! The monitor's loop while its container runs: the container's output to the log and to
//! attach clients, attach clients' input to the container, stop requests (the stop signal,
//! then SIGKILL after the timeout), health checks, and reaping. It runs in the monitor
//! itself, or (once the container has run a while) in the small `berth-supervisor` binary the
//! monitor execs into (see [`super::handover`]), so it uses nothing of the runtime, oci-spec
//! or the image store: what stays resident for a container's life is only this.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use nix::sys::signalfd::SignalFd;
use rustix::event::{PollFd, PollFlags};

use super::health::Checker;
use super::io;
use crate::engine::container::logs::LogWriter;
use crate::engine::container::records::{self, MonitorConfig, StopRequest};
use crate::engine::container::Paths;

/// How long a hand-over waits when the time came with something in flight.
const HAND_OVER_RETRY: Duration = Duration::from_millis(200);

/// What one run of the container ended with.
pub struct Ended {
    pub code: i32,
    pub stopped: bool,
    pub started: Instant,
    pub started_at: String,
}

/// One run of the container as the loop watches it.
pub struct Watch {
    pub pid: i32,
    pub started: Instant,
    pub started_at: String,
    /// (stream index 0 = stdout / 1 = stderr, read end or pty master)
    pub pipes: Vec<(usize, OwnedFd)>,
    /// Where input goes (stdin pipe's write end or the pty master).
    pub input: Option<OwnedFd>,
    pub tty: bool,
    pub health: Option<Checker>,
}

/// How [`Watch::run`] returned.
pub enum Step {
    /// The container exited and its output is all read.
    Ended(Ended),
    /// The hand-over time came while nothing was in flight (no stop under way, no health
    /// check running, nothing queued for an attach client): the loop can go on elsewhere.
    HandOver(Box<Watch>),
}

/// Reaps every exited child (the monitor is a subreaper): (PID, code or 128 + signal).
pub fn reap_all() -> Vec<(i32, i32)> {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let mut out = Vec::new();
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => out.push((pid.as_raw(), code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) => out.push((pid.as_raw(), 128 + sig as i32)),
            Ok(WaitStatus::StillAlive) | Err(_) => return out,
            Ok(_) => {}
        }
    }
}

fn stop_request(paths: &Paths, cfg: &MonitorConfig) -> StopRequest {
    records::read(&paths.run_dir(&cfg.id).join("stop.json")).unwrap_or(StopRequest {
        signal: cfg.stop_signal.clone(),
        timeout: cfg.stop_timeout,
    })
}

fn kill(pid: i32, signal: &str) {
    if let Ok(sig) = crate::engine::runtime::parse_signal(signal) {
        if let Some(p) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(p, sig);
        }
    }
}

/// The time left until `until`, as poll takes it (None: beyond any timeout, wait on).
fn timespec(until: Instant) -> Option<rustix::event::Timespec> {
    rustix::event::Timespec::try_from(until.saturating_duration_since(Instant::now())).ok()
}

/// The earliest of the times given.
fn earliest(times: &[Option<Instant>]) -> Option<Instant> {
    times.iter().flatten().min().copied()
}

impl Watch {
    /// Runs until the container has exited and its output is read, or (with `hand_over_at`)
    /// until that time has come and nothing is in flight.
    pub fn run(
        mut self,
        paths: &Paths,
        cfg: &MonitorConfig,
        sigfd: &SignalFd,
        log: &mut LogWriter,
        attach: &mut io::Attach,
        mut hand_over_at: Option<Instant>,
    ) -> Step {
        let mut code = None;
        let mut stopped = false;
        let mut kill_at: Option<Instant> = None;
        let mut buf = vec![0u8; 32 * 1024];
        while code.is_none() || !self.pipes.is_empty() {
            let health = self.health.as_ref().filter(|_| code.is_none());
            let wake = earliest(&[
                kill_at,
                health.map(Checker::deadline),
                hand_over_at.filter(|_| code.is_none()),
            ]);
            let timeout = wake.and_then(timespec);
            let mut fds: Vec<PollFd<'_>> = self
                .pipes
                .iter()
                .map(|(_, fd)| PollFd::new(fd, PollFlags::IN))
                .collect();
            fds.push(PollFd::new(sigfd, PollFlags::IN));
            fds.push(PollFd::new(attach.listener(), PollFlags::IN));
            for c in &attach.clients {
                let mut flags = PollFlags::empty();
                if c.reading {
                    flags |= PollFlags::IN;
                }
                if c.writing && !c.unsent.is_empty() {
                    flags |= PollFlags::OUT;
                }
                fds.push(PollFd::new(&c.stream, flags));
            }
            // A running check's output pipe, last.
            let check_output = self.health.as_ref().and_then(Checker::output_fd);
            let polls_check = check_output.is_some();
            fds.extend(check_output.map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN)));
            let _ = rustix::event::poll(&mut fds, timeout.as_ref());
            let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
            let n = self.pipes.len();
            let clients_end = fds.len() - usize::from(polls_check);
            let client_events: Vec<PollFlags> = fds[n + 2..clients_end]
                .iter()
                .map(|f| f.revents())
                .collect();
            let check_ready = polls_check && ready.last().copied().unwrap_or(false);
            drop(fds);
            if let (true, Some(h)) = (check_ready, self.health.as_mut()) {
                h.read_output(&mut buf);
            }
            self.read_clients(attach, &client_events, &mut buf);
            let mut closed = Vec::new();
            for (i, (stream, fd)) in self.pipes.iter().enumerate() {
                if !ready[i] {
                    continue;
                }
                match rustix::io::read(fd, &mut buf) {
                    Ok(0) => closed.push(i),
                    Ok(n) => {
                        log.write(*stream, &buf[..n]);
                        attach.broadcast(*stream, &buf[..n]);
                    }
                    Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
                    // EIO from a pty master: the container side closed.
                    Err(_) => closed.push(i),
                }
            }
            for i in closed.into_iter().rev() {
                self.pipes.remove(i);
            }
            if ready[n + 1] {
                attach.accept();
            }
            if ready[n] {
                while let Ok(Some(info)) = sigfd.read_signal() {
                    match info.ssi_signo as i32 {
                        libc::SIGUSR1 | libc::SIGTERM | libc::SIGINT if code.is_none() => {
                            let req = stop_request(paths, cfg);
                            stopped = true;
                            kill(self.pid, &req.signal);
                            kill_at =
                                Some(Instant::now() + Duration::from_secs(req.timeout.into()));
                        }
                        _ => {}
                    }
                }
            }
            for (pid, status) in reap_all() {
                if pid == self.pid {
                    code = Some(status);
                } else if let Some(h) = self.health.as_mut().filter(|h| h.pid() == Some(pid)) {
                    h.finished(status, &mut buf);
                }
            }
            if let Some(h) = &mut self.health {
                if code.is_none() {
                    h.tick();
                } else {
                    h.abandon();
                }
            }
            if let (Some(t), None) = (kill_at, code) {
                if Instant::now() >= t {
                    kill(self.pid, "KILL");
                    kill_at = None;
                }
            }
            if let (Some(t), None) = (hand_over_at, code) {
                let now = Instant::now();
                if now >= t {
                    let quiet = !stopped
                        && self.health.as_ref().is_none_or(|h| h.pid().is_none())
                        && attach.clients.iter().all(|c| c.unsent.is_empty());
                    if quiet {
                        return Step::HandOver(Box::new(self));
                    }
                    // Something in flight: look again a little later, not at once.
                    hand_over_at = Some(now + HAND_OVER_RETRY);
                }
            }
        }
        log.flush();
        attach.close_all();
        Step::Ended(Ended {
            code: code.unwrap_or(-1),
            stopped,
            started: self.started,
            started_at: self.started_at,
        })
    }

    /// Input from attach clients; a client closing its side closes a piped stdin.
    fn read_clients(&mut self, attach: &mut io::Attach, events: &[PollFlags], buf: &mut [u8]) {
        for (i, c) in attach.clients.iter_mut().enumerate() {
            let events = events.get(i).copied().unwrap_or(PollFlags::empty());
            if events.is_empty() {
                continue;
            }
            c.flush();
            if !c.reading {
                // Hung up with nothing left to read: its output side is gone too.
                if events.intersects(PollFlags::HUP | PollFlags::ERR) {
                    c.writing = false;
                }
                continue;
            }
            match rustix::io::read(&c.stream, &mut *buf) {
                Ok(0) => {
                    c.reading = false;
                    if !self.tty {
                        self.input = None;
                    }
                }
                Ok(n) => {
                    if let Some(fd) = &self.input {
                        io::feed(fd, &buf[..n]);
                    }
                }
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
                Err(_) => c.reading = false,
            }
        }
        attach.clients.retain(io::Client::alive);
    }
}
