//! What a container's setup process holds of the host when it starts using paths from the
//! spec: nothing but its standard streams and the descriptors it opens itself. A descriptor
//! inherited from the runtime (a cgroup directory, the state root, a published port's
//! socket) is a way out through `/proc/self/fd/N` (runc's "Leaky Vessels", CVE-2024-21626):
//! a working directory of `/proc/self/fd/N` would put the process in a host directory. So
//! every setup stage closes what it inherited before it touches such a path, and the working
//! directory is checked to be inside the container's root after `chdir`.

#![allow(unsafe_code)]

use std::os::fd::RawFd;
use std::path::Path;

/// Closes every descriptor above stderr except `keep`.
pub(crate) fn close_all_but(keep: &[RawFd]) {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|&&fd| fd > 2)
        .map(|&fd| fd as u32)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from = 3u32;
    for fd in keep.iter().copied().chain(std::iter::once(u32::MAX)) {
        if fd > from && close_range(from, fd - 1).is_err() {
            close_listed(from, fd - 1);
        }
        from = fd.saturating_add(1);
    }
}

/// `close_range(first, last, 0)` (Linux 5.9+).
fn close_range(first: u32, last: u32) -> Result<(), ()> {
    // SAFETY: the syscall takes two integers and a flag word; it only closes descriptors,
    // which nothing of this process uses any more (the caller's contract).
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    if r == 0 {
        Ok(())
    } else {
        Err(())
    }
}

/// The fallback for older kernels: each open descriptor in `first..=last`, as /proc lists
/// them.
fn close_listed(first: u32, last: u32) {
    let fds: Vec<u32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .filter(|fd| (first..=last).contains(fd))
            .collect(),
        Err(_) => (first..=last.min(65_535)).collect(),
    };
    for fd in fds {
        // SAFETY: closing a number; one that was the listing's own (now closed) just fails.
        unsafe { libc::close(fd as i32) };
    }
}

/// Points every standard stream that is a null device (character device 1:3) at the current
/// root's own `/dev/null`. One inherited from the caller is the host's inode, and a
/// container's root could `chmod 000 /proc/self/fd/0` it (or chown it) for the whole host.
/// Called once the process is in the container's root (after pivot_root, or after joining
/// its mount namespace); a root without a usable /dev/null leaves the streams as they are.
pub(crate) fn own_null_stdio() {
    use rustix::fs::{fstat, major, minor, open, FileType, Mode, OFlags};
    let is_null = |st: &rustix::fs::Stat| {
        FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice
            && (major(st.st_rdev), minor(st.st_rdev)) == (1, 3)
    };
    let Ok(null) = open(
        "/dev/null",
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return;
    };
    let Ok(own) = fstat(&null) else { return };
    if !is_null(&own) {
        return;
    }
    let streams = [
        rustix::stdio::stdin(),
        rustix::stdio::stdout(),
        rustix::stdio::stderr(),
    ];
    for (i, fd) in streams.into_iter().enumerate() {
        let Ok(st) = fstat(fd) else { continue };
        if !is_null(&st) || (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino) {
            continue;
        }
        let _ = match i {
            0 => rustix::stdio::dup2_stdin(&null),
            1 => rustix::stdio::dup2_stdout(&null),
            _ => rustix::stdio::dup2_stderr(&null),
        };
    }
}

/// Makes the working directory when the root filesystem lacks it, as runc does (mode 0755,
/// owned by root). Called after pivot_root, once every descriptor of the runtime is closed:
/// every component then resolves in the container's root.
pub(crate) fn make_cwd(cwd: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    if std::fs::symlink_metadata(cwd).is_ok() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(cwd)
        .map_err(|e| format!("making the working directory {}: {e}", cwd.display()))
}

/// `chdir(cwd)`, then checks the working directory is inside this process's root: the
/// kernel spells one outside it `(unreachable)/...` (as runc checks since 1.1.12).
pub(crate) fn enter_cwd(cwd: &Path) -> Result<(), String> {
    std::env::set_current_dir(cwd)
        .map_err(|e| format!("working directory {}: {e}", cwd.display()))?;
    match rustix::process::getcwd(Vec::new()) {
        Ok(now) if now.as_bytes().starts_with(b"/") => Ok(()),
        Ok(now) => Err(format!(
            "working directory {} is outside the container's root filesystem ({}); give a \
             directory of the container",
            cwd.display(),
            String::from_utf8_lossy(now.as_bytes())
        )),
        Err(e) => Err(format!(
            "working directory {}: cannot tell where it is: {e}",
            cwd.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::IntoRawFd;
    use std::os::unix::fs::MetadataExt;

    fn is_open(fd: RawFd) -> bool {
        // SAFETY: F_GETFD on a number only asks about it.
        unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
    }

    #[test]
    fn closes_everything_above_stderr_but_what_is_kept() {
        // In a child process: the test harness's own descriptors are not ours to close.
        // SAFETY: the child only makes plain system calls and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let a = std::fs::File::open("/").unwrap().into_raw_fd();
            let b = std::fs::File::open("/").unwrap().into_raw_fd();
            let c = std::fs::File::open("/").unwrap().into_raw_fd();
            close_all_but(&[b, 1]);
            let ok = !is_open(a) && is_open(b) && !is_open(c) && is_open(1);
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }

    #[test]
    fn a_null_device_on_a_standard_stream_becomes_the_roots_own() {
        if !rustix::process::geteuid().is_root() {
            eprintln!(
                "a_null_device_on_a_standard_stream_becomes_the_roots_own: skipped: needs root"
            );
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dev = tmp.path().join("dev");
        std::fs::create_dir(&dev).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dev.join("null"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o666),
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
        let own = std::fs::metadata(dev.join("null")).unwrap();
        let host_null = std::fs::File::open("/dev/null").unwrap();
        let (pipe_r, _pipe_w) = rustix::pipe::pipe().unwrap();
        // SAFETY: the child makes plain system calls and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = (|| {
                // stdin: the host's null device; stdout: a pipe (left alone).
                rustix::stdio::dup2_stdin(&host_null).ok()?;
                rustix::stdio::dup2_stdout(&pipe_r).ok()?;
                rustix::process::chroot(tmp.path()).ok()?;
                own_null_stdio();
                let st0 = rustix::fs::fstat(rustix::stdio::stdin()).ok()?;
                let st1 = rustix::fs::fstat(rustix::stdio::stdout()).ok()?;
                let pipe = rustix::fs::fstat(&pipe_r).ok()?;
                let ok = (st0.st_dev, st0.st_ino) == (own.dev(), own.ino())
                    && (st1.st_dev, st1.st_ino) == (pipe.st_dev, pipe.st_ino);
                ok.then_some(0)
            })();
            unsafe { libc::_exit(code.unwrap_or(1)) };
        }
        let mut status = 0;
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{status}"
        );
    }

    #[test]
    fn a_working_directory_outside_the_root_is_refused() {
        // A child that chroots into a directory and then enters one outside it by a
        // descriptor opened before: exactly the leaked-descriptor escape.
        if !rustix::process::geteuid().is_root() {
            eprintln!("a_working_directory_outside_the_root_is_refused: skipped: needs root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let inner = tmp.path().join("root");
        std::fs::create_dir_all(inner.join("proc")).unwrap();
        std::fs::create_dir_all(inner.join("inside")).unwrap();
        let outside = std::fs::File::open(tmp.path()).unwrap();
        // SAFETY: the child makes plain system calls and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = (|| {
                rustix::process::chroot(&inner).ok()?;
                std::env::set_current_dir("/").ok()?;
                enter_cwd(Path::new("/inside")).ok()?;
                // What /proc/self/fd/N of a host directory amounts to: the descriptor's
                // directory, outside the root; `.` stays there.
                rustix::process::fchdir(&outside).ok()?;
                let refused = enter_cwd(Path::new(".")).err()?;
                refused
                    .contains("outside the container's root")
                    .then_some(0)
            })();
            unsafe { libc::_exit(code.unwrap_or(1)) };
        }
        let mut status = 0;
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{status}"
        );
    }
}
