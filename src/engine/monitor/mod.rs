//! The monitor: one small, synchronous process per container (`berth-monitor __monitor ROOT
//! ID`), in its own session and outside the container's cgroup. It is the container's parent
//! (subreaper): it mounts the root filesystem, creates and starts the container through the
//! runtime, writes its output to the JSON log, records each exit atomically, applies the
//! restart policy with Docker's backoff, and on a stop request sends the stop signal, then
//! SIGKILL after the timeout. It never opens the database.
//!
//! While the container runs, the loop of [`supervise`] does the watching; after a second it
//! moves, same process, into the smaller `berth-supervisor` binary and comes back for the
//! exit ([`handover`]).

pub mod handover;
pub mod health;
pub mod io;
pub mod restart;
pub mod supervise;

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use serde::{Deserialize, Serialize};

use crate::engine::container::logs::LogWriter;
use crate::engine::container::records::{self, Exit, MonitorConfig, ProcessId, Running};
use crate::engine::container::Paths;
use crate::engine::image::mount::{mount_overlay, Upper};
use crate::engine::runtime;
use handover::Exes;
use supervise::{Ended, Step, Watch};

fn say(report: &mut Option<UnixStream>, msg: &str) {
    use std::io::Write;
    if let Some(s) = report {
        let _ = s.write_all(format!("{msg}\n").as_bytes());
    }
}

/// True when `dir` is a mount point.
fn is_mounted(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(dir), dir.parent().map(std::fs::metadata)) {
        (Ok(a), Some(Ok(b))) => a.dev() != b.dev(),
        _ => false,
    }
}

/// Mounts the container's root filesystem (the image's layers under its writable layer).
pub fn mount_rootfs(paths: &Paths, cfg: &MonitorConfig) -> Result<(), String> {
    let dir = paths.dir(&cfg.id);
    let rootfs = dir.join("rootfs");
    if is_mounted(&rootfs) {
        return Ok(());
    }
    for d in ["upper", "work", "rootfs"] {
        std::fs::create_dir_all(dir.join(d)).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    if cfg.auto_remove {
        // A volatile overlay that was not unmounted cleanly (the host went down) leaves this
        // marker, and overlay refuses the directories until it is gone.
        let _ = std::fs::remove_dir_all(dir.join("work/work/incompat"));
    }
    mount_overlay(
        &cfg.image_dir,
        &cfg.lowers,
        Some(Upper {
            upper: &dir.join("upper"),
            work: &dir.join("work"),
            volatile: cfg.auto_remove,
        }),
        &rootfs,
    )
    .map_err(|e| e.to_string())
}

/// Gives the heap the container's setup used (the spec, the runtime's files) back to the
/// system: the monitor stays resident for the container's whole life.
#[allow(unsafe_code)]
pub(crate) fn release_setup_memory() {
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Unmounts the container's root filesystem if it is mounted.
pub fn unmount_rootfs(paths: &Paths, id: &str) {
    let rootfs = paths.dir(id).join("rootfs");
    if is_mounted(&rootfs) {
        let _ = crate::engine::image::mount::unmount(&rootfs);
    }
}

/// Signals the monitor handles through its signalfd (blocked, so they wait in the kernel
/// while the monitor execs to or from its supervisor).
fn signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGPIPE,
    ] {
        set.add(s);
    }
    set
}

/// Blocks the monitor's signals and opens the descriptor it reads them from.
pub(crate) fn signal_fd() -> Result<SignalFd, String> {
    let mask = signals();
    let _ = mask.thread_block();
    SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| format!("signalfd: {e}"))
}

/// What the monitor carries from one run of the container to the next.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Carry {
    /// The last exit record's sequence number.
    pub seq: u64,
    pub restart_count: u32,
    /// The last restart's delay (Docker's backoff doubles it).
    pub delay: Option<Duration>,
}

/// A container's monitor.
struct Monitor {
    paths: Paths,
    cfg: MonitorConfig,
    sigfd: SignalFd,
    log: LogWriter,
    attach: io::Attach,
    exes: Exes,
    /// The command waiting for the first start.
    report: Option<UnixStream>,
}

impl Monitor {
    /// Runs the container once: from mount to exit. Err = it could not start.
    fn run_once(&mut self, carry: &Carry) -> Result<Ended, String> {
        let (paths, cfg) = (&self.paths, &self.cfg);
        mount_rootfs(paths, cfg)?;
        let runtime_root = paths.runtime_root();
        let run_dir = paths.run_dir(&cfg.id);
        let _ = runtime::delete(&runtime_root, &cfg.id, true);
        // The container inherits our 0/1/2 (pipes) or gets a pty through the console socket.
        let mut streams = io::Streams::before_create(&run_dir, cfg.tty, cfg.open_stdin)?;
        let created = runtime::create(
            &runtime_root,
            &cfg.id,
            &paths.dir(&cfg.id).join("bundle"),
            runtime::CreateOptions {
                stdio: runtime::Stdio::Inherit,
                console_socket: streams.console_socket(),
            },
        );
        streams.after_create(created.is_ok())?;
        let st = created.map_err(|e| e.to_string())?;
        runtime::start(&runtime_root, &cfg.id).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let started_at = records::now();
        let process = ProcessId::of(st.pid).unwrap_or(ProcessId {
            pid: st.pid,
            start: 0,
            boot_id: records::boot_id(),
        });
        let _ = records::write(
            &run_dir.join("running.json"),
            &Running {
                process,
                started_at: started_at.clone(),
                restart_count: carry.restart_count,
            },
        );
        say(&mut self.report, &format!("started {}", st.pid));
        self.report = None;
        release_setup_memory();
        // Checks run the monitor's binary (`__health`), from here or from the supervisor.
        let health = cfg.health.clone().map(|h| {
            health::Checker::new(
                h,
                &cfg.id,
                self.paths.root.clone(),
                self.exes.monitor_path(),
            )
        });
        let watch = Watch {
            pid: st.pid,
            started,
            started_at,
            pipes: std::mem::take(&mut streams.outputs),
            input: streams.input.take(),
            tty: streams.tty(),
            health,
        };
        let hand_over_at = self
            .exes
            .supervisor
            .is_some()
            .then(|| started + handover::AFTER);
        let watch = match self.watch(watch, hand_over_at) {
            Step::Ended(e) => return Ok(e),
            Step::HandOver(w) => *w,
        };
        let err = match self.exes.supervisor_agrees() {
            Err(e) => e,
            Ok(()) => handover::to_supervisor(
                &self.paths.root,
                &self.cfg,
                carry,
                &watch,
                &self.log,
                &self.attach,
                &self.exes,
            ),
        };
        // Still here: the supervisor could not run. This monitor goes on with the loop.
        eprintln!(
            "berth-monitor: {}: {err}; the monitor keeps the loop",
            self.cfg.id
        );
        self.exes.supervisor = None;
        match self.watch(watch, None) {
            Step::Ended(e) => Ok(e),
            Step::HandOver(_) => unreachable!("no hand-over time given"),
        }
    }

    fn watch(&mut self, watch: Watch, hand_over_at: Option<Instant>) -> Step {
        watch.run(
            &self.paths,
            &self.cfg,
            &self.sigfd,
            &mut self.log,
            &mut self.attach,
            hand_over_at,
        )
    }

    /// Records the run that ended (or failed to start); true when the container restarts.
    fn after_run(&mut self, result: Result<Ended, String>, carry: &mut Carry) -> bool {
        let (paths, id) = (&self.paths, self.cfg.id.as_str());
        let dir = paths.dir(id);
        let _ = std::fs::remove_file(paths.run_dir(id).join("running.json"));
        carry.seq += 1;
        let (ended, error) = match result {
            Ok(e) => (e, String::new()),
            Err(message) => {
                if self.report.is_some() {
                    say(
                        &mut self.report,
                        &format!("error {}", message.replace('\n', " ")),
                    );
                }
                (
                    Ended {
                        code: 127,
                        stopped: true,
                        started: Instant::now(),
                        started_at: records::now(),
                    },
                    message,
                )
            }
        };
        let oom_killed = runtime::oom_killed(&paths.runtime_root(), id);
        let _ = runtime::delete(&paths.runtime_root(), id, true);
        let again = error.is_empty()
            && restart::should_restart(
                self.cfg.restart,
                ended.code,
                ended.stopped,
                carry.restart_count,
            );
        let exit = Exit {
            seq: carry.seq,
            code: ended.code,
            oom_killed,
            started_at: ended.started_at,
            finished_at: records::now(),
            restart_count: carry.restart_count,
            restarting: again,
            error,
            stopped: ended.stopped,
        };
        // A --rm container's record goes with it: atomic is enough, no need to reach the disk.
        let _ = if self.cfg.auto_remove {
            records::write(&dir.join("exit.json"), &exit)
        } else {
            records::write_durable(&dir.join("exit.json"), &exit)
        };
        if !again {
            return false;
        }
        let d = restart::next_delay(carry.delay, ended.started.elapsed());
        carry.delay = Some(d);
        if !wait_before_restart(&self.sigfd, d) {
            let mut last = exit;
            last.restarting = false;
            last.stopped = true;
            let _ = records::write_durable(&dir.join("exit.json"), &last);
            return false;
        }
        carry.restart_count += 1;
        true
    }

    /// Runs the container until it is not restarted any more, then cleans up and exits.
    fn run(mut self, mut carry: Carry) -> ! {
        loop {
            let result = self.run_once(&carry);
            if !self.after_run(result, &mut carry) {
                break;
            }
        }
        self.finish()
    }

    fn finish(self) -> ! {
        let (paths, id) = (&self.paths, self.cfg.id.as_str());
        let run_dir = paths.run_dir(id);
        unmount_rootfs(paths, id);
        let _ = std::fs::remove_file(run_dir.join("stop.json"));
        let _ = std::fs::remove_file(run_dir.join("monitor.pid"));
        let _ = std::fs::remove_file(run_dir.join("attach.sock"));
        std::process::exit(0);
    }
}

/// Waits `delay` before a restart; false when a stop request came meanwhile.
fn wait_before_restart(sigfd: &SignalFd, delay: Duration) -> bool {
    let deadline = Instant::now() + delay;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        let ts = rustix::event::Timespec::try_from(left).ok();
        let mut fds = [rustix::event::PollFd::new(
            sigfd,
            rustix::event::PollFlags::IN,
        )];
        let _ = rustix::event::poll(&mut fds, ts.as_ref());
        while let Ok(Some(info)) = sigfd.read_signal() {
            if matches!(
                info.ssi_signo as i32,
                libc::SIGUSR1 | libc::SIGTERM | libc::SIGINT
            ) {
                return false;
            }
        }
    }
}

/// The monitor's main loop; `report` is the socket of the command waiting for the first start.
pub fn main(
    root: &Path,
    id: &str,
    report: Option<&Path>,
    wait_attach: bool,
    exes: Option<&str>,
) -> ! {
    // Started through a descriptor: `ps` would show its number.
    handover::set_name("berth-monitor");
    // Taken first, before anything else is opened: they are numbered by the starting command.
    let exes = Exes::open(exes);
    let paths = Paths::new(root);
    let _ = rustix::process::setsid();
    let sigfd = match signal_fd() {
        Ok(fd) => fd,
        Err(e) => std::process::exit(fail_early(report, &e)),
    };
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    let mut report = report.and_then(|p| runtime::unixsock::connect(p).ok());
    let dir = paths.dir(id);
    let run_dir = paths.run_dir(id);
    let Some(cfg) = records::read::<MonitorConfig>(&dir.join("monitor.json")) else {
        say(
            &mut report,
            "error the container's monitor.json is missing or unreadable",
        );
        std::process::exit(1);
    };
    let _ = crate::engine::private::create_dir(&run_dir);
    if let Some(me) = ProcessId::of(std::process::id() as i32) {
        let _ = records::write(&run_dir.join("monitor.pid"), &me);
    }
    let _ = std::fs::remove_file(run_dir.join("stop.json"));
    let log = match LogWriter::open(&paths.log(id), cfg.log_max_size) {
        Ok(l) => l,
        Err(e) => {
            say(
                &mut report,
                &format!("error log {}: {e}", paths.log(id).display()),
            );
            std::process::exit(1);
        }
    };
    let mut attach = match io::Attach::bind(&run_dir) {
        Ok(a) => a,
        Err(e) => {
            say(&mut report, &format!("error {e}"));
            std::process::exit(1);
        }
    };
    if wait_attach {
        // `run -i/-t`: the command attaches before the container starts, so nothing is missed.
        attach.wait_for_client(Duration::from_secs(30));
    }
    let seq = records::read::<Exit>(&dir.join("exit.json")).map_or(0, |e| e.seq);
    let monitor = Monitor {
        paths,
        cfg,
        sigfd,
        log,
        attach,
        exes,
        report,
    };
    monitor.run(Carry {
        seq,
        restart_count: 0,
        delay: None,
    })
}

/// `__resume FD`: the monitor again after its supervisor saw the container exit: records the
/// exit, then restarts the container or cleans up.
pub fn resume(arg: Option<&str>) -> ! {
    let back = match handover::from_supervisor(arg) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("berth-monitor: {e}");
            std::process::exit(1);
        }
    };
    let sigfd = match signal_fd() {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("berth-monitor: {e}");
            std::process::exit(1);
        }
    };
    let paths = Paths::new(&back.root);
    let log = match LogWriter::open(&paths.log(&back.cfg.id), back.cfg.log_max_size) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("berth-monitor: log: {e}");
            std::process::exit(1);
        }
    };
    let mut carry = back.carry;
    let mut monitor = Monitor {
        paths,
        cfg: back.cfg,
        sigfd,
        log,
        attach: io::Attach::from_parts(back.attach, Vec::new()),
        exes: back.exes,
        report: None,
    };
    if monitor.after_run(Ok(back.ended), &mut carry) {
        monitor.run(carry)
    }
    monitor.finish()
}

fn fail_early(report: Option<&Path>, msg: &str) -> i32 {
    let mut r = report.and_then(|p| runtime::unixsock::connect(p).ok());
    say(&mut r, &format!("error {msg}"));
    1
}
