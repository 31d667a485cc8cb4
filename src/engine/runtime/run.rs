//! `run`: create, start and wait, relaying the container's terminal when it has one and the
//! caller gave no console socket (as `runc run` does); or create and start only (`--detach`).

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use super::lifecycle::{cgroup_rel, create, delete, dir, start, CreateOptions};
use super::{cgroup, RuntimeError};

/// How a foreground `run` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code; 128 + signal when a signal killed it.
    pub code: i32,
    /// The kernel's OOM killer killed a process of the container.
    pub oom_killed: bool,
}

/// The caller's terminal in raw mode; its settings come back when dropped.
pub struct RawMode(rustix::termios::Termios);

impl RawMode {
    /// Raw mode on stdin when it is a terminal.
    pub fn enter() -> Option<RawMode> {
        use rustix::termios::{tcgetattr, tcsetattr, OptionalActions};
        let stdin = rustix::stdio::stdin();
        if !rustix::termios::isatty(stdin) {
            return None;
        }
        let saved = tcgetattr(stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(stdin, OptionalActions::Now, &raw).ok()?;
        Some(RawMode(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            rustix::stdio::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.0,
        );
    }
}

/// Copies our stdin to the pty (in a thread) and the pty to our stdout until the container
/// side closes (our terminal in raw mode meanwhile).
pub fn relay(master: OwnedFd) {
    let _raw = RawMode::enter();
    if let Ok(input) = rustix::io::fcntl_dupfd_cloexec(&master, 0) {
        std::thread::spawn(move || {
            let mut input = std::fs::File::from(input);
            let mut buf = [0u8; 4096];
            let mut stdin = std::io::stdin().lock();
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 || input.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    let mut output = std::fs::File::from(master);
    let mut stdout = std::io::stdout().lock();
    let mut buf = [0u8; 8192];
    // EIO once every slave descriptor is closed: the container is done with its terminal.
    while let Ok(n) = output.read(&mut buf) {
        if n == 0 || stdout.write_all(&buf[..n]).is_err() {
            break;
        }
        let _ = stdout.flush();
    }
}

/// Accepts the container's connection on our own console socket and takes the pty master.
pub fn take_console(listener: &UnixListener, id: &str) -> Result<OwnedFd, RuntimeError> {
    let setup = |message: String| RuntimeError::Setup {
        id: id.to_string(),
        message,
    };
    // The container connected and sent the master before it reported ready.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let stream = super::unixsock::accept_within(listener, deadline)
        .map_err(|e| setup(format!("the container did not hand over its terminal: {e}")))?;
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    stream
        .set_read_timeout(Some(left.max(std::time::Duration::from_millis(10))))
        .map_err(|e| setup(e.to_string()))?;
    super::terminal::recv_fd(&stream)
        .map(|(fd, _)| fd)
        .map_err(setup)
}

fn wants_terminal(bundle: &Path) -> bool {
    Spec::load(bundle.join("config.json"))
        .ok()
        .and_then(|s| s.process().as_ref().and_then(|p| p.terminal()))
        .unwrap_or(false)
}

/// `run`. With `detach`, returns once the container is started (`Outcome` code 0).
pub fn run(
    root: &Path,
    id: &str,
    bundle: &Path,
    mut options: CreateOptions,
    detach: bool,
) -> Result<Outcome, RuntimeError> {
    let d = dir(root, id)?;
    if !detach {
        // The container's process is not our child: become its subreaper to wait for it.
        rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
            .map_err(|e| RuntimeError::io(Path::new("prctl"), e.into()))?;
    }
    let mut own_console: Option<(UnixListener, PathBuf)> = None;
    if options.console_socket.is_none() && wants_terminal(bundle) {
        if detach {
            return Err(RuntimeError::Bundle {
                bundle: bundle.to_path_buf(),
                message: "process.terminal is true: a detached run needs --console-socket".into(),
            });
        }
        crate::engine::private::create_dir(root).map_err(|e| RuntimeError::io(root, e))?;
        let path = root.join(format!(".{id}.console"));
        let _ = std::fs::remove_file(&path);
        let listener = super::unixsock::bind(&path).map_err(|e| RuntimeError::io(&path, e))?;
        options.console_socket = Some(path.clone());
        own_console = Some((listener, path));
    }
    let created = create(root, id, bundle, options);
    let master = match (&own_console, &created) {
        (Some((listener, _)), Ok(_)) => Some(take_console(listener, id)),
        _ => None,
    };
    if let Some((_, path)) = &own_console {
        let _ = std::fs::remove_file(path);
    }
    let st = created?;
    let master = match master.transpose() {
        Ok(m) => m,
        Err(e) => {
            let _ = delete(root, id, true);
            return Err(e);
        }
    };
    // The process leads a session of its own (no terminal of ours is its controlling one):
    // the signals a terminal or `kill` sends us go on to it, as runc's do.
    let saved_mask = nix::sys::signal::SigSet::thread_get_mask().ok();
    let signals = if detach {
        None
    } else {
        Some(
            super::exec::forwarded_signals().map_err(|message| RuntimeError::Setup {
                id: id.to_string(),
                message,
            })?,
        )
    };
    let started = start(root, id);
    let code = match (&started, master) {
        (Ok(()), master) if !detach => {
            if let Some(master) = master {
                relay(master);
            }
            let pid = nix::unistd::Pid::from_raw(st.pid);
            Some(super::exec::wait_forwarding(pid, signals.as_ref(), false))
        }
        _ => None,
    };
    drop(signals);
    if let Some(mask) = saved_mask {
        let _ = mask.thread_set_mask();
    }
    if let Err(e) = started {
        // A container that failed to start is not left created.
        let _ = delete(root, id, true);
        return Err(e);
    }
    let Some(code) = code else {
        return Ok(Outcome {
            code: 0,
            oom_killed: false,
        });
    };
    let oom_killed =
        cgroup_rel(&d).is_some_and(|rel| cgroup::oom_kills(Path::new(cgroup::ROOT), &rel) > 0);
    let _ = delete(root, id, true);
    Ok(Outcome { code, oom_killed })
}
