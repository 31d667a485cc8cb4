//! What is root's alone: the state root, the run directory, the runtime root and the image
//! store are 0700, and the files holding a container's settings (specs with its environment,
//! records, logs, the database) 0600, as Docker keeps /var/lib/docker 0710 and /run/docker
//! 0700. Otherwise any host user could read `-e` secrets and logs, and walk into containers'
//! root filesystems (mounted on the host under the state root, with an image's setuid
//! binaries).
//!
//! No umask is set: directories made for bind mounts (`-v /new/dir:/x`) keep Docker's 0755,
//! and copy-up gives volumes the image's modes; those live under a private root anyway.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of the private directories.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the private files.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and its missing parents, each 0700 (an existing one is left as it is).
pub fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Makes `dir` 0700, creating it if needed.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    create_dir(dir)?;
    set_mode(dir, DIR_MODE)
}

/// Sets `path`'s mode unless it has it already (a missing path is no error).
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.mode() & 0o7777 == mode => Ok(()),
        Ok(_) => std::fs::set_permissions(path, Permissions::from_mode(mode)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opens `path` for writing, created 0600; an existing file of another mode (an older berth
/// made it 0644) is made 0600 too.
pub fn open(path: &Path, append: bool) -> io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .append(append)
        .truncate(!append)
        .mode(FILE_MODE)
        .open(path)?;
    if f.metadata()?.mode() & 0o077 != 0 {
        f.set_permissions(Permissions::from_mode(FILE_MODE))?;
    }
    Ok(f)
}

/// Writes `data` to `path` (0600).
pub fn write(path: &Path, data: &[u8]) -> io::Result<()> {
    open(path, false)?.write_all(data)
}

/// The directories [`secure`] keeps private, and the database files it corrects.
pub struct Layout<'a> {
    pub root: &'a Path,
    pub run: &'a Path,
    pub runtime: &'a Path,
    pub images: &'a Path,
}

/// Makes the state root, run directory, runtime root and image store root's alone: created
/// 0700, or corrected (with the database's files, 0600) when an older berth left them open.
/// One `stat` when all is well: of the run directory, which a reboot empties (it is where a
/// fresh boot or an older install shows), so each command pays one system call.
pub fn secure(l: &Layout<'_>) -> io::Result<()> {
    match std::fs::metadata(l.run) {
        Ok(m) if m.mode() & 0o7777 == DIR_MODE && m.uid() == 0 => return Ok(()),
        Ok(_) | Err(_) => {}
    }
    ensure_dir(l.root)?;
    ensure_dir(l.run)?;
    ensure_dir(l.runtime)?;
    set_mode(l.images, DIR_MODE)?;
    for f in ["berth.db", "berth.db-wal", "berth.db-shm"] {
        set_mode(&l.root.join(f), FILE_MODE)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn open_layouts_are_corrected_and_new_ones_made_private() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let run = root.join("run");
        let l = Layout {
            root: &root,
            run: &run,
            runtime: &run.join("runtime"),
            images: &root.join("image"),
        };
        secure(&l).unwrap();
        for d in [&root, &run, &run.join("runtime")] {
            assert_eq!(mode(d), 0o700, "{}", d.display());
        }
        // As an older berth left them.
        std::fs::create_dir(root.join("image")).unwrap();
        std::fs::write(root.join("berth.db"), b"").unwrap();
        for (p, m) in [
            (&root, 0o755),
            (&run, 0o755),
            (&root.join("image"), 0o755),
            (&root.join("berth.db"), 0o644),
        ] {
            std::fs::set_permissions(p, Permissions::from_mode(m)).unwrap();
        }
        secure(&l).unwrap();
        for d in [&root, &run, &root.join("image")] {
            assert_eq!(mode(d), 0o700, "{}", d.display());
        }
        assert_eq!(mode(&root.join("berth.db")), 0o600);
    }

    #[test]
    fn files_are_written_0600_and_old_ones_corrected() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        write(&p, b"one").unwrap();
        assert_eq!(mode(&p), 0o600);
        std::fs::set_permissions(&p, Permissions::from_mode(0o644)).unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(
            (mode(&p), std::fs::read(&p).unwrap()),
            (0o600, b"two".to_vec())
        );
        let mut f = open(&p, true).unwrap();
        f.write_all(b"three").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"twothree");
    }
}
