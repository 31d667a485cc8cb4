//! Network namespaces kept alive by a bind mount of their nsfs file (as `ip netns` does), so
//! they exist before the container starts (which joins them by path) and can be taken down
//! after it died. Work inside one happens on a short-lived thread that joined it: namespace
//! membership is per thread, so the rest of the process stays where it was.

use std::path::Path;

use rustix::thread::LinkNameSpaceType;

fn io(what: &str, path: &Path, e: impl Into<std::io::Error>) -> std::io::Error {
    let e = e.into();
    std::io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// Creates a new network namespace held by a bind mount at `path` (an empty file is made).
pub fn create(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::File::create(path).map_err(|e| io("create", path, e))?;
    let target = path.to_path_buf();
    let made = std::thread::spawn(move || -> std::io::Result<()> {
        let path = target;
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| io("unshare for", &path, std::io::Error::from(e)))?;
        rustix::mount::mount_bind("/proc/thread-self/ns/net", &path)
            .map_err(|e| io("bind-mount the namespace at", &path, e))
    })
    .join()
    .unwrap_or_else(|_| Err(std::io::Error::other("the namespace thread panicked")));
    if made.is_err() {
        let _ = std::fs::remove_file(path);
    }
    made
}

/// Whether `path` holds a network namespace (the bind mount is in place).
pub fn exists(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // An nsfs file lives on its own filesystem, not on the directory's.
    match (
        std::fs::metadata(path),
        path.parent().map(std::fs::metadata),
    ) {
        (Ok(m), Some(Ok(p))) => m.dev() != p.dev(),
        _ => false,
    }
}

/// Unmounts and removes the namespace's file; the namespace ends once nothing uses it.
pub fn remove(path: &Path) {
    let _ = rustix::mount::unmount(path, rustix::mount::UnmountFlags::DETACH);
    let _ = std::fs::remove_file(path);
}

/// Runs `f` on a thread inside the namespace at `path`.
pub fn run_in<T: Send>(path: &Path, f: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    let ns = std::fs::File::open(path).map_err(|e| io("open", path, e))?;
    std::thread::scope(|s| {
        s.spawn(|| -> std::io::Result<T> {
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&ns),
                Some(LinkNameSpaceType::Network),
            )
            .map_err(|e| io("join the namespace at", path, e))?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the namespace thread panicked")))
    })
}
