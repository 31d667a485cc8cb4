//! The monitor's hand-over to `berth-supervisor` and back.
//!
//! A container's monitor is a large binary (the runtime, oci-spec, the overlay code): what it
//! maps and relocates stays resident for the container's whole life. Once a container has run
//! for [`AFTER`] with nothing in flight, its monitor execs `berth-supervisor`, a small binary
//! holding only the loop of [`super::supervise`]: same PID (still the container's parent and
//! subreaper, same session, same blocked signals, so nothing sent meanwhile is lost), the
//! container's pipes or pty, the attach socket and its clients, the log's unfinished lines
//! and the health checker's state passed along. When the container exits the supervisor
//! execs the monitor again (`__resume`), which records the exit and restarts the container
//! or cleans up. Short-lived containers never pay the two execs.
//!
//! Both binaries are held open from the monitor's start and exec'd through those
//! descriptors, so a monitor keeps running the versions it started with when berth is
//! upgraded under it. The state crosses the exec as JSON in a memfd; descriptors lose
//! close-on-exec just before the exec and get it back first thing after.

#![allow(unsafe_code)]

use std::ffi::{CString, OsString};
use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::health::{self, Checker};
use super::supervise::{Ended, Step, Watch};
use super::{io, Carry};
use crate::engine::container::logs::LogWriter;
use crate::engine::container::records::{self, Exit, MonitorConfig};
use crate::engine::container::Paths;

/// The supervisor's binary, looked for beside the monitor's.
pub const SUPERVISOR: &str = "berth-supervisor";
/// How long a container runs before its loop moves to the supervisor.
pub const AFTER: Duration = Duration::from_secs(1);
/// The layout of what crosses the exec (bump the number when it changes), with the release:
/// both sides refuse another, and the monitor asks the supervisor before handing over.
const VERSION: &str = concat!("1 ", env!("CARGO_PKG_VERSION"));

/// The binaries of a container's processes, open from the monitor's start.
pub struct Exes {
    /// The monitor's own binary (health checks and the way back run it).
    pub monitor: Option<OwnedFd>,
    /// `berth-supervisor`, when it is installed beside the monitor.
    pub supervisor: Option<OwnedFd>,
    /// The supervisor answered with this monitor's hand-over version.
    checked: bool,
}

fn open_exe(path: &Path) -> Option<OwnedFd> {
    std::fs::File::open(path).ok().map(OwnedFd::from)
}

impl Exes {
    /// The binaries the command that started this monitor opened for it (protected:
    /// `runtime::exe`), given as `MONITOR,SUPERVISOR` descriptor numbers (`-` for none);
    /// without them, this process's binary and the supervisor beside it.
    pub fn open(passed: Option<&str>) -> Exes {
        if let Some(exes) = passed.and_then(Exes::passed) {
            return exes;
        }
        let supervisor = std::fs::read_link("/proc/self/exe")
            .ok()
            .and_then(|p| Some(p.parent()?.join(SUPERVISOR)))
            .filter(|p| p.is_file())
            .and_then(|p| open_exe(&p));
        Exes {
            monitor: open_exe(Path::new("/proc/self/exe")),
            supervisor,
            checked: false,
        }
    }

    /// `MONITOR,SUPERVISOR` descriptors passed by the starting command.
    fn passed(arg: &str) -> Option<Exes> {
        let (m, s) = arg.split_once(',')?;
        let number = |n: &str| -> Option<Option<RawFd>> {
            match n {
                "-" => Some(None),
                n => n.parse().ok().filter(|fd| *fd > 2).map(Some),
            }
        };
        let [monitor, supervisor] =
            [number(m)?, number(s)?].map(|fd| fd.and_then(|fd| adopt(fd).ok()));
        Some(Exes {
            monitor: Some(monitor?),
            supervisor,
            checked: false,
        })
    }

    /// Whether the supervisor takes this monitor's hand-over: asked once (`__version`), so
    /// binaries from different builds side by side never leave a container unsupervised.
    /// A supervisor that does not is forgotten.
    pub fn supervisor_agrees(&mut self) -> Result<(), String> {
        let Some(fd) = &self.supervisor else {
            return Err("no supervisor".into());
        };
        if self.checked {
            return Ok(());
        }
        let answer = std::process::Command::new(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .arg("__version")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output();
        match answer {
            Ok(out) if out.stdout.trim_ascii() == VERSION.as_bytes() => {
                self.checked = true;
                Ok(())
            }
            other => {
                self.supervisor = None;
                Err(match other {
                    Ok(out) => format!(
                        "the supervisor speaks hand-over version {:?}, this monitor {VERSION:?}",
                        String::from_utf8_lossy(out.stdout.trim_ascii())
                    ),
                    Err(e) => format!("asking the supervisor its version: {e}"),
                })
            }
        }
    }

    /// A path to the monitor's binary a child process can exec.
    pub fn monitor_path(&self) -> PathBuf {
        match &self.monitor {
            Some(fd) => PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
            None => PathBuf::from("/proc/self/exe"),
        }
    }

    fn raw(&self) -> [Option<RawFd>; 2] {
        [&self.monitor, &self.supervisor].map(|f| f.as_ref().map(AsRawFd::as_raw_fd))
    }

    fn adopt(raw: [Option<RawFd>; 2]) -> Result<Exes, String> {
        let [monitor, supervisor] = raw.map(|fd| fd.map(adopt).transpose());
        Ok(Exes {
            monitor: monitor?,
            supervisor: supervisor?,
            // Both ends of a hand-over agreed on it already.
            checked: true,
        })
    }
}

/// A time on the monotonic clock (`Instant`'s) in nanoseconds, to cross an exec.
fn to_mono(t: Instant) -> u64 {
    let (now, mono) = (Instant::now(), mono_now());
    if t >= now {
        mono + (t - now).as_nanos() as u64
    } else {
        mono.saturating_sub((now - t).as_nanos() as u64)
    }
}

fn from_mono(ns: u64) -> Instant {
    let (now, mono) = (Instant::now(), mono_now());
    if ns >= mono {
        now + Duration::from_nanos(ns - mono)
    } else {
        now.checked_sub(Duration::from_nanos(mono - ns))
            .unwrap_or(now)
    }
}

fn mono_now() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

#[derive(Serialize, Deserialize)]
struct HealthIdle {
    state: health::State,
    next: u64,
    container_started: u64,
}

/// The monitor's loop as it goes to the supervisor.
#[derive(Serialize, Deserialize)]
struct ToSupervisor {
    version: String,
    root: PathBuf,
    cfg: MonitorConfig,
    carry: Carry,
    pid: i32,
    started: u64,
    started_at: String,
    pipes: Vec<(usize, RawFd)>,
    input: Option<RawFd>,
    tty: bool,
    attach: RawFd,
    /// (descriptor, still reading, still writing)
    clients: Vec<(RawFd, bool, bool)>,
    partial: [Vec<u8>; 2],
    health: Option<HealthIdle>,
    exes: [Option<RawFd>; 2],
}

/// A finished run as it goes back to the monitor.
#[derive(Serialize, Deserialize)]
struct ToMonitor {
    version: String,
    root: PathBuf,
    cfg: MonitorConfig,
    carry: Carry,
    code: i32,
    stopped: bool,
    started: u64,
    started_at: String,
    attach: RawFd,
    exes: [Option<RawFd>; 2],
}

/// Takes ownership of a descriptor received across an exec and sets close-on-exec again.
fn adopt(fd: RawFd) -> Result<OwnedFd, String> {
    // A descriptor number the other side wrote: check that it is open before owning it.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    rustix::io::fcntl_setfd(borrowed, rustix::io::FdFlags::CLOEXEC)
        .map_err(|e| format!("handed-over descriptor {fd}: {e}"))?;
    // SAFETY: the descriptor is open (just checked) and nothing else in this process owns
    // it: it was passed across the exec for this side to take.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Writes `state` to a memfd, clears close-on-exec on it and `keep`, and execs `exe` with
/// `[name, mode, memfd, root, id]` (the last two for `ps` and whoever looks for a state
/// root's processes); returns only the error that stopped it (close-on-exec set again).
fn exec_with<T: Serialize>(
    exe: &OwnedFd,
    [name, mode]: [&str; 2],
    (root, id): (&Path, &str),
    state: &T,
    keep: &[RawFd],
) -> String {
    let memfd = match rustix::fs::memfd_create("berth-handover", rustix::fs::MemfdFlags::CLOEXEC) {
        Ok(fd) => fd,
        Err(e) => return format!("memfd: {e}"),
    };
    let mut file = std::fs::File::from(memfd);
    let json = serde_json::to_vec(state).expect("serialisable");
    if let Err(e) = file.write_all(&json) {
        return format!("memfd: {e}");
    }
    let all: Vec<RawFd> = keep.iter().copied().chain([file.as_raw_fd()]).collect();
    let set = |flags| {
        for fd in &all {
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(*fd) };
            let _ = rustix::io::fcntl_setfd(fd, flags);
        }
    };
    set(rustix::io::FdFlags::empty());
    let fd = file.as_raw_fd().to_string();
    let args: Vec<CString> = [name.as_bytes(), mode.as_bytes(), fd.as_bytes()]
        .into_iter()
        .chain([root.as_os_str().as_bytes(), id.as_bytes()])
        .filter_map(|a| CString::new(a).ok())
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv: OsString = k;
            kv.push("=");
            kv.push(v);
            CString::new(kv.as_bytes()).ok()
        })
        .collect();
    // fexecve, not Command::exec: that would unblock every signal before the exec.
    let err = nix::unistd::fexecve(exe.as_fd(), &args, &env).unwrap_err();
    set(rustix::io::FdFlags::CLOEXEC);
    format!("exec {name}: {err}")
}

/// Reads what the other side wrote to the memfd `arg` names.
fn receive<T: for<'de> Deserialize<'de>>(arg: Option<&str>) -> Result<T, String> {
    let fd = arg
        .and_then(|a| a.parse::<RawFd>().ok())
        .ok_or("no hand-over descriptor")?;
    let mut file = std::fs::File::from(adopt(fd)?);
    let mut json = Vec::new();
    file.rewind()
        .and_then(|_| file.read_to_end(&mut json))
        .map_err(|e| format!("hand-over: {e}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("hand-over: {e}"))
}

/// Names this process as `ps` shows it (an exec through a descriptor names it after the
/// descriptor's number).
pub(super) fn set_name(name: &str) {
    if let Ok(c) = CString::new(&name.as_bytes()[..name.len().min(15)]) {
        let _ = rustix::thread::set_name(&c);
    }
}

/// Execs the supervisor with `watch`; returns only the error that stopped it, with
/// everything still in place for the monitor to go on.
pub(super) fn to_supervisor(
    root: &Path,
    cfg: &MonitorConfig,
    carry: &Carry,
    watch: &Watch,
    log: &LogWriter,
    attach: &io::Attach,
    exes: &Exes,
) -> String {
    let Some(exe) = &exes.supervisor else {
        return "no supervisor".into();
    };
    if !exes.checked {
        return "the supervisor's version was not checked".into();
    }
    let state = ToSupervisor {
        version: VERSION.to_string(),
        root: root.to_path_buf(),
        cfg: cfg.clone(),
        carry: *carry,
        pid: watch.pid,
        started: to_mono(watch.started),
        started_at: watch.started_at.clone(),
        pipes: watch
            .pipes
            .iter()
            .map(|(s, fd)| (*s, fd.as_raw_fd()))
            .collect(),
        input: watch.input.as_ref().map(AsRawFd::as_raw_fd),
        tty: watch.tty,
        attach: attach.listener().as_raw_fd(),
        clients: attach
            .clients
            .iter()
            .map(|c| (c.stream.as_raw_fd(), c.reading, c.writing))
            .collect(),
        partial: log.partial(),
        health: watch
            .health
            .as_ref()
            .and_then(Checker::idle)
            .map(|i| HealthIdle {
                state: i.state,
                next: to_mono(i.next),
                container_started: to_mono(i.container_started),
            }),
        exes: exes.raw(),
    };
    let keep: Vec<RawFd> = state
        .pipes
        .iter()
        .map(|(_, fd)| *fd)
        .chain(state.input)
        .chain([state.attach])
        .chain(state.clients.iter().map(|c| c.0))
        .chain(state.exes.iter().flatten().copied())
        .collect();
    exec_with(
        exe,
        [SUPERVISOR, "__supervise"],
        (root, &cfg.id),
        &state,
        &keep,
    )
}

/// `berth-supervisor __version`: the hand-over version this binary takes.
pub fn supervisor_version() -> ! {
    println!("{VERSION}");
    std::process::exit(0);
}

/// `berth-supervisor __supervise FD`: runs the loop the monitor handed over until the
/// container exits, then hands the run back to the monitor.
pub fn supervisor_main(argv: &[OsString]) -> ! {
    set_name(SUPERVISOR);
    let h = match receive::<ToSupervisor>(argv.get(2).and_then(|a| a.to_str())) {
        Ok(h) if h.version == VERSION => h,
        Ok(h) => die(&format!(
            "hand-over version {} (this is {VERSION})",
            h.version
        )),
        Err(e) => die(&e),
    };
    let sigfd = super::signal_fd().unwrap_or_else(|e| die(&e));
    let taken = (|| -> Result<_, String> {
        let pipes = h
            .pipes
            .iter()
            .map(|(s, fd)| Ok((*s, adopt(*fd)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let input = h.input.map(adopt).transpose()?;
        let listener = UnixListener::from(adopt(h.attach)?);
        let clients = h
            .clients
            .iter()
            .map(|(fd, reading, writing)| {
                Ok(io::Client {
                    stream: UnixStream::from(adopt(*fd)?),
                    reading: *reading,
                    writing: *writing,
                    unsent: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok((pipes, input, listener, clients, Exes::adopt(h.exes)?))
    })();
    let (pipes, input, listener, clients, exes) = taken.unwrap_or_else(|e| die(&e));
    let paths = Paths::new(&h.root);
    let id = h.cfg.id.clone();
    let mut log = match LogWriter::open(&paths.log(&id), h.cfg.log_max_size) {
        Ok(l) => l,
        Err(e) => die(&format!("log {}: {e}", paths.log(&id).display())),
    };
    log.set_partial(h.partial.clone());
    let mut attach = io::Attach::from_parts(listener, clients);
    let health = h.cfg.health.clone().zip(h.health).map(|(config, idle)| {
        let idle = health::Idle {
            state: idle.state,
            next: from_mono(idle.next),
            container_started: from_mono(idle.container_started),
        };
        Checker::resume(config, &id, h.root.clone(), exes.monitor_path(), idle)
    });
    // What stays resident from here on is the loop's: give back what the setup used.
    super::release_setup_memory();
    let watch = Watch {
        pid: h.pid,
        started: from_mono(h.started),
        started_at: h.started_at.clone(),
        pipes,
        input,
        tty: h.tty,
        health,
    };
    let ended = match watch.run(&paths, &h.cfg, &sigfd, &mut log, &mut attach, None) {
        Step::Ended(e) => e,
        Step::HandOver(_) => unreachable!("no hand-over time given"),
    };
    let back = ToMonitor {
        version: VERSION.to_string(),
        root: h.root.clone(),
        cfg: h.cfg.clone(),
        carry: h.carry,
        code: ended.code,
        stopped: ended.stopped,
        started: to_mono(ended.started),
        started_at: ended.started_at.clone(),
        attach: attach.listener().as_raw_fd(),
        exes: exes.raw(),
    };
    let err = match &exes.monitor {
        Some(exe) => {
            let keep: Vec<RawFd> = [back.attach]
                .into_iter()
                .chain(back.exes.iter().flatten().copied())
                .collect();
            exec_with(
                exe,
                ["berth-monitor", "__resume"],
                (&h.root, &id),
                &back,
                &keep,
            )
        }
        None => "the monitor's binary is not open".into(),
    };
    // The monitor cannot take the run back: record the exit as it is known, so the
    // container is never shown running.
    let exit = Exit {
        seq: h.carry.seq + 1,
        code: ended.code,
        oom_killed: false,
        started_at: ended.started_at,
        finished_at: records::now(),
        restart_count: h.carry.restart_count,
        restarting: false,
        error: format!("the supervisor could not hand the exit back to the monitor: {err}"),
        stopped: ended.stopped,
    };
    let _ = records::write_durable(&paths.dir(&id).join("exit.json"), &exit);
    die(&err)
}

/// What the supervisor handed back (`berth-monitor __resume FD`): the monitor's settings,
/// its attach socket and binaries, and the run that ended.
pub(super) struct Back {
    pub root: PathBuf,
    pub cfg: MonitorConfig,
    pub carry: Carry,
    pub ended: Ended,
    pub attach: UnixListener,
    pub exes: Exes,
}

pub(super) fn from_supervisor(arg: Option<&str>) -> Result<Back, String> {
    set_name("berth-monitor");
    let b: ToMonitor = receive(arg)?;
    if b.version != VERSION {
        return Err(format!(
            "hand-over version {} (this is {VERSION})",
            b.version
        ));
    }
    Ok(Back {
        attach: UnixListener::from(adopt(b.attach)?),
        exes: Exes::adopt(b.exes)?,
        root: b.root,
        cfg: b.cfg,
        carry: b.carry,
        ended: Ended {
            code: b.code,
            stopped: b.stopped,
            started: from_mono(b.started),
            started_at: b.started_at,
        },
    })
}

fn die(msg: &str) -> ! {
    eprintln!("berth-supervisor: {msg}");
    std::process::exit(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_cross_as_monotonic_nanoseconds() {
        let now = Instant::now();
        for t in [
            now,
            now + Duration::from_secs(3),
            now - Duration::from_millis(1500),
        ] {
            let back = from_mono(to_mono(t));
            let diff = if back > t { back - t } else { t - back };
            assert!(diff < Duration::from_millis(5), "{diff:?}");
        }
    }
}
