//! A sealed in-memory copy of berth's own binary, for the setup processes that a container's
//! processes could reach (CVE-2019-5736: a process in the container opens /proc/PID/exe of a
//! runtime process and overwrites the host binary). The copy is a memfd sealed against writes,
//! growth and shrinking, so even a successful open for writing changes nothing.

use std::os::fd::OwnedFd;

use rustix::fs::{MemfdFlags, SealFlags};

/// A sealed copy of /proc/self/exe.
pub fn sealed_copy() -> std::io::Result<OwnedFd> {
    let src = std::fs::File::open("/proc/self/exe")?;
    let len = src.metadata()?.len();
    let memfd = rustix::fs::memfd_create(
        "berth-runtime",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )?;
    let mut left = len;
    while left > 0 {
        let n = rustix::fs::sendfile(&memfd, &src, None, left as usize)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "/proc/self/exe shrank while being copied",
            ));
        }
        left -= n as u64;
    }
    rustix::fs::fcntl_add_seals(
        &memfd,
        SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
    )?;
    Ok(memfd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn the_copy_cannot_be_written() {
        let fd = sealed_copy().unwrap();
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let own = std::fs::metadata("/proc/self/exe").unwrap().len();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), own);
        let attempt = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"\x7fELF-overwritten"));
        assert!(attempt.is_err(), "a sealed copy took a write");
        assert!(rustix::fs::ftruncate(&fd, 0).is_err());
    }
}
