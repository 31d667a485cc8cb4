//! The OCI runtime: runs a bundle (config.json in `oci-spec` types + a root filesystem) as an
//! isolated process, with runc's lifecycle: create (the process waits), start (it execs),
//! state, kill, delete; run = create + start + wait. Knows nothing of images or compose.
//!
//! State lives in `<runtime root>/<id>/`: `state.json`, the resolved `config.json`, `bundle`,
//! `exec.fifo` (present while created), `init.sock` (during create).
//!
//! Not yet here (see the note): user namespaces.

pub mod cgroup;
mod cgroupfs;
mod control;
pub mod devices_bpf;
pub mod exe;
mod exec;
mod fds;
mod fork;
mod init;
pub(crate) mod inroot;
mod lifecycle;
mod mount_checks;
mod mountattr;
pub mod process;
pub mod rootfs;
mod run;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod sysctl;
pub mod terminal;
pub mod unixsock;
mod waits;

use std::path::{Path, PathBuf};

use thiserror::Error;

pub use control::{events, list, pause, resume};
pub use exec::{exec, exec1, exec_replace, exec_spawn};
pub use init::{init1, init2};
pub use lifecycle::{
    create, delete, kill, oom_killed, parse_signal, processes, start, state_json, CreateOptions,
    Stdio,
};
pub use run::{relay, run, take_console, Outcome, RawMode};

#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid container id `{0}`: use letters, digits, `_`, `-`, `.` and `+`")]
    InvalidId(String),
    #[error("container `{0}` does not exist")]
    NotFound(String),
    #[error("container `{0}` already exists; delete it first")]
    Exists(String),
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("bundle {}: {message}", bundle.display())]
    Bundle { bundle: PathBuf, message: String },
    #[error("container `{id}` is {status}; {action} needs it {needed}")]
    State {
        id: String,
        status: &'static str,
        action: &'static str,
        needed: &'static str,
    },
    #[error("container `{id}` setup failed: {message}")]
    Setup { id: String, message: String },
    #[error("container `{id}` did not start: {message}")]
    Start { id: String, message: String },
    #[error("signal `{0}` is not known (use a name such as TERM or KILL, or a number)")]
    Signal(String),
    #[error("sending {signal} to container `{id}`: {source}")]
    Kill {
        id: String,
        signal: String,
        source: std::io::Error,
    },
}

impl RuntimeError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> RuntimeError {
        RuntimeError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
