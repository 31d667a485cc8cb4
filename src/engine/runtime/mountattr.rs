//! `mount_setattr(2)` with `AT_RECURSIVE`: read-only (and nosuid/nodev/noexec) applied to a
//! mount and every mount below it in one call, so an `rbind` of a tree with submounts is
//! read-only all the way down. rustix does not wrap this syscall yet.

#![allow(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd};

use rustix::mount::MountFlags;

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Sets the attributes that `flags` asks for (ro, nosuid, nodev, noexec) on the mount that
/// `fd` is the root of and on all its submounts.
pub fn set_recursive(fd: impl AsFd, flags: MountFlags) -> std::io::Result<()> {
    let mut set = 0;
    for (flag, attr) in [
        (MountFlags::RDONLY, MOUNT_ATTR_RDONLY),
        (MountFlags::NOSUID, MOUNT_ATTR_NOSUID),
        (MountFlags::NODEV, MOUNT_ATTR_NODEV),
        (MountFlags::NOEXEC, MOUNT_ATTR_NOEXEC),
    ] {
        if flags.contains(flag) {
            set |= attr;
        }
    }
    if set == 0 {
        return Ok(());
    }
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: the path is a valid NUL-terminated empty string, `attr` is a live, correctly
    // laid out `struct mount_attr` whose size is passed, and the descriptor is borrowed for the
    // duration of the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_fd().as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}
