//! The monitor: one small, synchronous process per container (berth re-executed as
//! `berth __monitor ROOT ID`), in its own session and outside the container's cgroup. It is
//! the container's parent (subreaper): it mounts the root filesystem, creates and starts the
//! container through the runtime, writes its output to the JSON log, records each exit
//! atomically, applies the restart policy with Docker's backoff, and on a stop request sends
//! the stop signal, then SIGKILL after the timeout. It never opens the database.

pub mod health;
pub mod io;
pub mod restart;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::engine::container::logs::LogWriter;
use crate::engine::container::records::{
    self, Exit, MonitorConfig, ProcessId, Running, StopRequest,
};
use crate::engine::container::Paths;
use crate::engine::image::mount::{mount_overlay, Upper};
use crate::engine::runtime;

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
fn release_setup_memory() {
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

/// What one run of the container ended with.
struct Ended {
    code: i32,
    stopped: bool,
    started: Instant,
    started_at: String,
}

/// Signals the monitor handles through its signalfd.
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

/// Reaps every exited child (the monitor is a subreaper): (PID, code or 128 + signal).
fn reap_all() -> Vec<(i32, i32)> {
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
    if let Ok(sig) = runtime::parse_signal(signal) {
        if let Some(p) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(p, sig);
        }
    }
}

/// Runs the container once: from mount to exit. Err = it could not start.
fn run_once(
    paths: &Paths,
    cfg: &MonitorConfig,
    sigfd: &SignalFd,
    log: &mut LogWriter,
    attach: &mut io::Attach,
    restart_count: u32,
    report: &mut Option<UnixStream>,
) -> Result<Ended, String> {
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
            restart_count,
        },
    );
    say(report, &format!("started {}", st.pid));
    *report = None;
    release_setup_memory();
    let mut health = cfg
        .health
        .clone()
        .map(|h| health::Checker::new(h, &cfg.id, runtime_root.clone(), run_dir.clone()));
    let mut pipes: Vec<(usize, OwnedFd)> = std::mem::take(&mut streams.outputs);
    let mut input = streams.input.take();
    let mut code = None;
    let mut stopped = false;
    let mut kill_at: Option<Instant> = None;
    let mut buf = vec![0u8; 64 * 1024];
    while code.is_none() || !pipes.is_empty() {
        use rustix::event::{PollFd, PollFlags};
        let wake = match (kill_at, health.as_ref().filter(|_| code.is_none())) {
            (Some(k), Some(h)) => Some(k.min(h.deadline())),
            (Some(k), None) => Some(k),
            (None, Some(h)) => Some(h.deadline()),
            (None, None) => None,
        };
        let timeout = wake.map(|t| {
            let d = t.saturating_duration_since(Instant::now());
            rustix::event::Timespec {
                tv_sec: d.as_secs() as i64,
                tv_nsec: d.subsec_nanos() as i64,
            }
        });
        let mut fds: Vec<PollFd<'_>> = pipes
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
        let _ = rustix::event::poll(&mut fds, timeout.as_ref());
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        let client_events: Vec<PollFlags> =
            fds[pipes.len() + 2..].iter().map(|f| f.revents()).collect();
        drop(fds);
        let sig_ready = ready[pipes.len()];
        let listener_ready = ready[pipes.len() + 1];
        // Input from attach clients; a client closing its side closes a piped stdin.
        for (i, c) in attach.clients.iter_mut().enumerate() {
            let events = client_events.get(i).copied().unwrap_or(PollFlags::empty());
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
            match rustix::io::read(&c.stream, &mut buf) {
                Ok(0) => {
                    c.reading = false;
                    if !streams.tty() {
                        input = None;
                    }
                }
                Ok(n) => {
                    if let Some(fd) = &input {
                        io::feed(fd, &buf[..n]);
                    }
                }
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
                Err(_) => c.reading = false,
            }
        }
        attach.clients.retain(io::Client::alive);
        let mut closed = Vec::new();
        for (i, (stream, fd)) in pipes.iter().enumerate() {
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
            pipes.remove(i);
        }
        if listener_ready {
            attach.accept();
        }
        if sig_ready {
            while let Ok(Some(info)) = sigfd.read_signal() {
                match info.ssi_signo as i32 {
                    libc::SIGCHLD => {}
                    libc::SIGUSR1 | libc::SIGTERM | libc::SIGINT if code.is_none() => {
                        let req = stop_request(paths, cfg);
                        stopped = true;
                        kill(st.pid, &req.signal);
                        kill_at = Some(Instant::now() + Duration::from_secs(req.timeout.into()));
                    }
                    _ => {}
                }
            }
        }
        for (pid, status) in reap_all() {
            if pid == st.pid {
                code = Some(status);
            } else if let Some(h) = health.as_mut().filter(|h| h.pid() == Some(pid)) {
                h.finished(status);
            }
        }
        if let Some(h) = &mut health {
            if code.is_none() {
                h.tick();
            } else {
                h.abandon();
            }
        }
        if let (Some(t), None) = (kill_at, code) {
            if Instant::now() >= t {
                kill(st.pid, "KILL");
                kill_at = None;
            }
        }
    }
    log.flush();
    attach.close_all();
    drop(input);
    Ok(Ended {
        code: code.unwrap_or(-1),
        stopped,
        started,
        started_at,
    })
}

/// Waits `delay` before a restart; false when a stop request came meanwhile.
fn wait_before_restart(sigfd: &SignalFd, delay: Duration) -> bool {
    let deadline = Instant::now() + delay;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        let ts = rustix::event::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos() as i64,
        };
        let mut fds = [rustix::event::PollFd::new(
            sigfd,
            rustix::event::PollFlags::IN,
        )];
        let _ = rustix::event::poll(&mut fds, Some(&ts));
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
pub fn main(root: &Path, id: &str, report: Option<&Path>, wait_attach: bool) -> ! {
    let paths = Paths::new(root);
    let _ = rustix::process::setsid();
    let mask = signals();
    let _ = mask.thread_block();
    let sigfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) {
        Ok(fd) => fd,
        Err(e) => std::process::exit(fail_early(report, &format!("signalfd: {e}"))),
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
    let _ = std::fs::create_dir_all(&run_dir);
    if let Some(me) = ProcessId::of(std::process::id() as i32) {
        let _ = records::write(&run_dir.join("monitor.pid"), &me);
    }
    let _ = std::fs::remove_file(run_dir.join("stop.json"));
    let mut log = match LogWriter::open(&paths.log(id), cfg.log_max_size) {
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
    let mut seq = records::read::<Exit>(&dir.join("exit.json")).map_or(0, |e| e.seq);
    let mut restart_count = 0u32;
    let mut delay = None;
    loop {
        let result = run_once(
            &paths,
            &cfg,
            &sigfd,
            &mut log,
            &mut attach,
            restart_count,
            &mut report,
        );
        let _ = std::fs::remove_file(run_dir.join("running.json"));
        seq += 1;
        let (ended, error) = match result {
            Ok(e) => (e, String::new()),
            Err(message) => {
                if report.is_some() {
                    say(
                        &mut report,
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
            && restart::should_restart(cfg.restart, ended.code, ended.stopped, restart_count);
        let exit = Exit {
            seq,
            code: ended.code,
            oom_killed,
            started_at: ended.started_at,
            finished_at: records::now(),
            restart_count,
            restarting: again,
            error,
            stopped: ended.stopped,
        };
        // A --rm container's record goes with it: atomic is enough, no need to reach the disk.
        let _ = if cfg.auto_remove {
            records::write(&dir.join("exit.json"), &exit)
        } else {
            records::write_durable(&dir.join("exit.json"), &exit)
        };
        if !again {
            break;
        }
        let d = restart::next_delay(delay, ended.started.elapsed());
        delay = Some(d);
        if !wait_before_restart(&sigfd, d) {
            let mut last = exit;
            last.restarting = false;
            last.stopped = true;
            let _ = records::write_durable(&dir.join("exit.json"), &last);
            break;
        }
        restart_count += 1;
    }
    unmount_rootfs(&paths, id);
    let _ = std::fs::remove_file(run_dir.join("stop.json"));
    let _ = std::fs::remove_file(run_dir.join("monitor.pid"));
    let _ = std::fs::remove_file(run_dir.join("attach.sock"));
    std::process::exit(0);
}

fn fail_early(report: Option<&Path>, msg: &str) -> i32 {
    let mut r = report.and_then(|p| runtime::unixsock::connect(p).ok());
    say(&mut r, &format!("error {msg}"));
    1
}
