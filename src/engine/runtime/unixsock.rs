//! Unix sockets at paths of any length: a socket address holds at most 107 bytes, and state
//! roots can be deep. A long path is reached through its directory's descriptor
//! (`/proc/self/fd/N/NAME`), which the kernel resolves like any path.

use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// The longest path a `sockaddr_un` takes (its 108 bytes less the terminating NUL).
const MAX: usize = 107;

fn via_dir<T>(path: &Path, f: impl FnOnce(&Path) -> std::io::Result<T>) -> std::io::Result<T> {
    if path.as_os_str().len() <= MAX {
        return f(path);
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return f(path);
    };
    let d = std::fs::File::open(dir)?;
    let short = PathBuf::from(format!("/proc/self/fd/{}", d.as_raw_fd())).join(name);
    f(&short)
}

/// Binds a listening socket at `path`.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    via_dir(path, |p| UnixListener::bind(p))
}

/// Connects to the socket at `path`.
pub fn connect(path: &Path) -> std::io::Result<UnixStream> {
    via_dir(path, |p| UnixStream::connect(p))
}

/// Accepts one connection, waiting at most until `deadline`; the stream returned blocks.
pub fn accept_within(
    listener: &UnixListener,
    deadline: std::time::Instant,
) -> std::io::Result<UnixStream> {
    listener.set_nonblocking(true)?;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                return Ok(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "nobody connected in time",
                    ));
                }
                let ts = rustix::event::Timespec::try_from(left).ok();
                let mut fds = [rustix::event::PollFd::new(
                    listener,
                    rustix::event::PollFlags::IN,
                )];
                let _ = rustix::event::poll(&mut fds, ts.as_ref());
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_work() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("d".repeat(60)).join("e".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let path = deep.join("x.sock");
        assert!(path.as_os_str().len() > MAX);
        let l = bind(&path).unwrap();
        let _c = connect(&path).unwrap();
        assert!(l.accept().is_ok());
    }
}
