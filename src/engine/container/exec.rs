//! `exec`: another process in a running container, its standard streams relayed by berth.
//!
//! The process never gets a descriptor of the caller's: not its terminal (the process could
//! push input into the caller's shell with TIOCSTI, or leave a child reading what is typed
//! next), not a file. As with Docker: stdout and stderr are pipes berth copies to its own;
//! stdin is a pipe fed from berth's stdin with `-i`, else the container's /dev/null; with
//! `-t` the process gets a pty of the container's own devpts, whose master berth relays (its
//! input only with `-i`). The runtime starts the process in a session of its own. Once it
//! has exited, its streams get Docker's grace of 2 s to drain: a child it left holding them
//! does not hold `exec`. The exit code is the process's (128 + N for signal N).

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};

use super::service::Engine;
use super::view::View;
use super::{ContainerError, Result};
use crate::engine::runtime;

/// How long the streams of a process that exited may still be read (Docker's).
const DRAIN: Duration = Duration::from_secs(2);

/// What `exec` runs.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub detach: bool,
    /// `-i`: berth's stdin goes to the process (without it, the process reads nothing).
    pub interactive: bool,
    /// A pty (`-t`), of this size (rows, columns) when known.
    pub tty: bool,
    pub size: Option<(u16, u16)>,
}

impl Engine {
    /// The process `exec` runs: the container's own (user, capabilities, environment,
    /// limits) with the request's command, additions to the environment, directory and user.
    pub fn exec_process(&self, v: &View, req: &ExecRequest) -> Result<oci_spec::runtime::Process> {
        let bundle = self.paths.dir(&v.row.id).join("bundle/config.json");
        let spec = oci_spec::runtime::Spec::load(&bundle).map_err(|e| ContainerError::Failed {
            name: v.row.name.clone(),
            message: format!("{}: {e}", bundle.display()),
        })?;
        let mut p = spec.process().clone().unwrap_or_default();
        if req.args.is_empty() {
            return Err(ContainerError::Invalid("exec needs a command".into()));
        }
        p.set_args(Some(req.args.clone()));
        p.set_terminal(Some(req.tty));
        if let Some((rows, cols)) = req.size {
            let size: oci_spec::runtime::Box =
                serde_json::from_value(serde_json::json!({"height": rows, "width": cols}))
                    .expect("a console size");
            p.set_console_size(Some(size));
        }
        let mut env = p.env().clone().unwrap_or_default();
        for kv in &req.env {
            let key = kv.split('=').next().unwrap_or(kv);
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        p.set_env(Some(env));
        if let Some(w) = &req.workdir {
            p.set_cwd(w.into());
        }
        if let Some(u) = &req.user {
            let rootfs = self.paths.dir(&v.row.id).join("rootfs");
            let (uid, gid, extra) = super::spec::resolve_user(&rootfs, u, &[])?;
            let mut user = p.user().clone();
            user.set_uid(uid);
            user.set_gid(gid);
            user.set_additional_gids(Some(extra));
            p.set_user(user);
        }
        Ok(p)
    }

    /// `exec`: runs a command in a running container; its exit code (0 when detached).
    pub fn exec(&self, key: &str, req: &ExecRequest) -> Result<i32> {
        let v = self.get(key)?;
        if v.status != "running" {
            return Err(ContainerError::WrongState {
                name: v.row.name.clone(),
                status: v.status.to_string(),
                hint: "exec needs a running container",
            });
        }
        let p = self.exec_process(&v, req)?;
        let root = self.paths.runtime_root();
        let id = v.row.id.as_str();
        if req.detach {
            runtime::exec_spawn(&root, id, &p, runtime::Stdio::Null, None)?;
            return Ok(0);
        }
        let here = Path::new("exec");
        let (out_r, out_w) = pipe().map_err(|e| ContainerError::io(here, e))?;
        let (err_r, err_w) = pipe().map_err(|e| ContainerError::io(here, e))?;
        // With a terminal the process's streams are the pty; these carry what goes wrong
        // before it has one.
        let mut outputs = vec![(out_r, Sink::Stdout), (err_r, Sink::Stderr)];
        let (stdin, feed) = if req.interactive && !req.tty {
            let (r, w) = pipe().map_err(|e| ContainerError::io(here, e))?;
            (r, Some(w))
        } else {
            // The runtime puts the container's own /dev/null in its place.
            let null = std::fs::File::open("/dev/null")
                .map_err(|e| ContainerError::io(Path::new("/dev/null"), e))?;
            (OwnedFd::from(null), None)
        };
        let stdio = runtime::Stdio::Fds([stdin, out_w, err_w]);
        let mut console = None;
        let child = if req.tty {
            // The pty master comes back over a socket of ours.
            let sock = self
                .paths
                .run_dir(id)
                .join(format!("exec-{}.sock", std::process::id()));
            let _ = std::fs::remove_file(&sock);
            let listener =
                runtime::unixsock::bind(&sock).map_err(|e| ContainerError::io(&sock, e))?;
            let child = runtime::exec_spawn(&root, id, &p, stdio, Some(&sock));
            let child = child.map(|mut c| {
                console = wait_for_console(&listener, &mut c, id);
                c
            });
            let _ = std::fs::remove_file(&sock);
            child?
        } else {
            runtime::exec_spawn(&root, id, &p, stdio, None)?
        };
        let mut input = feed;
        if let Some(master) = console {
            if req.interactive {
                input = Some(
                    rustix::io::fcntl_dupfd_cloexec(&master, 0)
                        .map_err(|e| ContainerError::io(here, e.into()))?,
                );
            }
            outputs.push((master, Sink::Stdout));
        }
        // Raw only while our terminal's input goes to the process's pty.
        let _raw = (req.tty && req.interactive)
            .then(runtime::RawMode::enter)
            .flatten();
        if let Some(to) = input {
            feed_stdin(to);
        }
        let status = relay(outputs, child).map_err(|e| ContainerError::io(here, e))?;
        use std::os::unix::process::ExitStatusExt;
        Ok(status
            .code()
            .or(status.signal().map(|s| 128 + s))
            .unwrap_or(1))
    }
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(Into::into)
}

/// Where a stream of the process goes.
#[derive(Clone, Copy)]
enum Sink {
    Stdout,
    Stderr,
}

impl Sink {
    /// Writes `data` out; false when our side is gone (what follows is read and dropped, so
    /// the process never blocks on a full pipe).
    fn write(self, data: &[u8]) -> bool {
        match self {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(data).and_then(|()| out.flush()).is_ok()
            }
            Sink::Stderr => std::io::stderr().lock().write_all(data).is_ok(),
        }
    }
}

/// Copies berth's stdin to `to` in a thread of its own, closing `to` at its end (the
/// process then reads end-of-file).
fn feed_stdin(to: OwnedFd) {
    std::thread::spawn(move || {
        let mut to = std::fs::File::from(to);
        let mut buf = [0u8; 8192];
        let mut stdin = std::io::stdin().lock();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
}

/// Copies each output of the process to where it goes, in order per stream, until every
/// stream is closed and the process (stage 1, whose exit status is the process's) has
/// exited, or [`DRAIN`] after it exited; returns its exit status.
fn relay(
    mut streams: Vec<(OwnedFd, Sink)>,
    mut child: Child,
) -> std::io::Result<std::process::ExitStatus> {
    // Readable when the process exits (Linux 5.3+; else the loop looks every 50 ms).
    let pidfd = rustix::process::Pid::from_raw(child.id() as i32).and_then(|pid| {
        rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
    });
    let mut writable: Vec<bool> = vec![true; streams.len()];
    let mut status = None;
    let mut until: Option<Instant> = None;
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        if let Some(s) = status {
            if streams.is_empty() || until.is_some_and(|t| Instant::now() >= t) {
                return Ok(s);
            }
        }
        let mut fds: Vec<PollFd<'_>> = streams
            .iter()
            .map(|(fd, _)| PollFd::new(fd, PollFlags::IN))
            .collect();
        let watch_exit = status.is_none() && pidfd.is_some();
        if let (true, Some(p)) = (watch_exit, &pidfd) {
            fds.push(PollFd::new(p, PollFlags::IN));
        }
        let wait = match (until, status, &pidfd) {
            (Some(t), _, _) => Some(t.saturating_duration_since(Instant::now())),
            (None, None, None) => Some(Duration::from_millis(50)),
            _ => None,
        };
        let ts = wait.and_then(|w| rustix::event::Timespec::try_from(w).ok());
        match rustix::event::poll(&mut fds, ts.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        let mut closed = Vec::new();
        for (i, (fd, sink)) in streams.iter().enumerate() {
            if !ready[i] {
                continue;
            }
            match rustix::io::read(fd, &mut buf) {
                Ok(0) => closed.push(i),
                Ok(n) => {
                    if writable[i] {
                        writable[i] = sink.write(&buf[..n]);
                    }
                }
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
                // EIO from a pty master: every slave descriptor is closed.
                Err(_) => closed.push(i),
            }
        }
        for i in closed.into_iter().rev() {
            streams.remove(i);
            writable.remove(i);
        }
        let exit_ready = if watch_exit {
            ready.last().copied().unwrap_or(false)
        } else {
            status.is_none()
        };
        if exit_ready {
            if let Some(s) = child.try_wait()? {
                status = Some(s);
                until = Some(Instant::now() + DRAIN);
            }
        }
    }
}

/// The pty master an exec with a terminal sends, unless the exec fails first.
fn wait_for_console(listener: &UnixListener, child: &mut Child, id: &str) -> Option<OwnedFd> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let mut fds = [PollFd::new(listener, PollFlags::IN)];
        let ts = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 20_000_000,
        };
        if rustix::event::poll(&mut fds, Some(&ts)).unwrap_or(0) > 0 {
            return runtime::take_console(listener, id).ok();
        }
        if !matches!(child.try_wait(), Ok(None)) {
            return None;
        }
    }
    None
}
