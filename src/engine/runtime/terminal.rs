//! Terminals: the container's pty is made inside the container (its own devpts instance), its
//! slave becomes the process's stdin/stdout/stderr and controlling terminal (and /dev/console),
//! and its master goes to whoever holds the console socket, as an SCM_RIGHTS message (runc's
//! protocol: the fd with the pty's name as data).

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// A new pty in the current mount namespace's /dev/ptmx: (master, slave, slave path).
pub fn open_pty() -> Result<(OwnedFd, OwnedFd, String), String> {
    use rustix::pty::OpenptFlags;
    let err = |what: &str, e: rustix::io::Errno| format!("terminal: {what}: {e}");
    let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY)
        .map_err(|e| err("opening /dev/ptmx", e))?;
    rustix::pty::grantpt(&master).map_err(|e| err("grantpt", e))?;
    rustix::pty::unlockpt(&master).map_err(|e| err("unlockpt", e))?;
    let name = rustix::pty::ptsname(&master, Vec::new())
        .map_err(|e| err("ptsname", e))?
        .into_string()
        .map_err(|_| "terminal: the pty name is not UTF-8".to_string())?;
    let slave = rustix::fs::open(
        name.as_str(),
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| err(&format!("opening {name}"), e))?;
    Ok((master, slave, name))
}

/// Makes the process's pty (in the current mount namespace's devpts), sized as the process
/// asks and owned by its user, and sends the master over `socket`. Returns the slave and its
/// path.
pub fn hand_over(
    process: &oci_spec::runtime::Process,
    socket: impl AsFd,
) -> Result<(OwnedFd, String), String> {
    let (master, slave, name) = open_pty()?;
    if let Some(size) = process.console_size() {
        let _ = set_size(&master, size.height() as u16, size.width() as u16);
    }
    let _ = rustix::fs::fchown(
        &slave,
        Some(rustix::fs::Uid::from_raw(process.user().uid())),
        None,
    );
    send_fd(socket, &master, &name)?;
    Ok((slave, name))
}

/// Sets the terminal's size (rows, columns).
pub fn set_size(fd: impl AsFd, rows: u16, cols: u16) -> Result<(), String> {
    rustix::termios::tcsetwinsize(
        fd,
        rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
    .map_err(|e| format!("terminal size: {e}"))
}

/// Makes `slave` the calling process's controlling terminal and standard streams (in a new
/// session, unless the process leads one already).
pub fn make_controlling(slave: &OwnedFd) -> Result<(), String> {
    // EPERM: the process leads a group, which here means it ran setsid already (a group
    // leader outside a session of its own fails at TIOCSCTTY below).
    match rustix::process::setsid() {
        Ok(_) | Err(rustix::io::Errno::PERM) => {}
        Err(e) => return Err(format!("setsid: {e}")),
    }
    rustix::process::ioctl_tiocsctty(slave).map_err(|e| format!("TIOCSCTTY: {e}"))?;
    rustix::stdio::dup2_stdin(slave).map_err(|e| format!("terminal stdin: {e}"))?;
    rustix::stdio::dup2_stdout(slave).map_err(|e| format!("terminal stdout: {e}"))?;
    rustix::stdio::dup2_stderr(slave).map_err(|e| format!("terminal stderr: {e}"))?;
    Ok(())
}

/// Sends `fd` over a Unix socket with `name` as the message.
pub fn send_fd(socket: impl AsFd, fd: impl AsFd, name: &str) -> Result<(), String> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [fd.as_fd()];
    control.push(SendAncillaryMessage::ScmRights(&fds));
    rustix::net::sendmsg(
        socket,
        &[IoSlice::new(name.as_bytes())],
        &mut control,
        SendFlags::empty(),
    )
    .map_err(|e| format!("sending the terminal: {e}"))?;
    Ok(())
}

/// Receives one descriptor sent with [`send_fd`], and its name.
pub fn recv_fd(socket: impl AsFd) -> Result<(OwnedFd, String), String> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut data = [0u8; 4096];
    let msg = rustix::net::recvmsg(
        socket,
        &mut [IoSliceMut::new(&mut data)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .map_err(|e| format!("receiving the terminal: {e}"))?;
    let name = String::from_utf8_lossy(&data[..msg.bytes]).into_owned();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = m {
            if let Some(fd) = fds.next() {
                return Ok((fd, name));
            }
        }
    }
    Err("receiving the terminal: no descriptor in the message".into())
}

/// Bind-mounts the pty slave over /dev/console (an empty file is made first).
pub fn mount_console(slave_path: &str) -> Result<(), String> {
    let console = Path::new("/dev/console");
    if std::fs::symlink_metadata(console).is_err() {
        std::fs::write(console, b"").map_err(|e| format!("/dev/console: {e}"))?;
    }
    rustix::mount::mount_bind(slave_path, console).map_err(|e| format!("/dev/console: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_cross_a_socket() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let tmp = tempfile::tempfile().unwrap();
        send_fd(&a, &tmp, "/dev/pts/7").unwrap();
        let (fd, name) = recv_fd(&b).unwrap();
        assert_eq!(name, "/dev/pts/7");
        let st1 = rustix::fs::fstat(&tmp).unwrap();
        let st2 = rustix::fs::fstat(&fd).unwrap();
        assert_eq!((st1.st_dev, st1.st_ino), (st2.st_dev, st2.st_ino));
    }
}
