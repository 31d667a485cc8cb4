//! The processes berth starts of its own (the monitor, the container's setup stages, a
//! network's DNS server), dispatched before any command-line parsing: they touch less of the
//! binary, start sooner and stay smaller. `berth` enters here for all of them; the small
//! `berth-monitor` binary (which holds nothing else) for a container's processes, and the
//! engine starts it for those when it is installed beside `berth` (see [`helper_exes`]).

use std::os::fd::OwnedFd;
use std::path::Path;

/// The binaries of a container's processes, protected from the container (see
/// [`crate::engine::runtime::exe`]): `berth-monitor` beside the running binary when it is
/// there (smaller: less to load and less memory per container), else this binary; and
/// `berth-supervisor` when it is installed beside them.
pub struct HelperExes {
    pub monitor: OwnedFd,
    pub supervisor: Option<OwnedFd>,
}

/// Opens [`HelperExes`] through one private read-only overlay of their directory (the
/// runtime root holds its empty second layer).
pub fn helper_exes(runtime_root: &Path) -> std::io::Result<HelperExes> {
    let own = std::fs::read_link("/proc/self/exe")?;
    let dir = own.parent().unwrap_or(Path::new("/"));
    let small = dir.join("berth-monitor");
    let name = if small.is_file() {
        Path::new("berth-monitor")
    } else {
        own.file_name().map(Path::new).unwrap_or(Path::new("berth"))
    };
    let protected = crate::engine::runtime::exe::protect_in(
        dir,
        &[name, Path::new("berth-supervisor")],
        runtime_root,
    );
    let mut fds = protected.unwrap_or_default().into_iter();
    let (monitor, supervisor) = (fds.next().flatten(), fds.next().flatten());
    let monitor = match monitor {
        Some(fd) => fd,
        // This binary (replaced since it started, say): a protected copy of what runs.
        None => match crate::engine::runtime::exe::protect_self(runtime_root)? {
            Some(fd) => fd,
            None => std::fs::File::open("/proc/self/exe")?.into(),
        },
    };
    Ok(HelperExes {
        monitor,
        supervisor,
    })
}

/// Runs the internal process `argv` names and never returns; returns for anything else.
pub fn entry(argv: &[std::ffi::OsString]) {
    container_entry(argv);
    let arg = |i: usize| argv.get(i).and_then(|a| a.to_str());
    let path = |i: usize| argv.get(i).map(std::path::PathBuf::from);
    if let (Some("__dns"), Some(_)) = (arg(1), arg(2)) {
        // `__dns DIR ADDR/PREFIX [UPSTREAM...]`: the prefix is the served clients' subnet.
        if let (Some(dir), Some(listen)) = (path(2), arg(3)) {
            let ups = argv[4..]
                .iter()
                .filter_map(|a| a.to_str()?.parse().ok())
                .collect();
            if let Err(e) = crate::engine::network::dns::serve(&dir, listen, ups) {
                eprintln!("berth dns: {e}");
            }
            std::process::exit(1);
        }
    }
}

/// As [`entry`], for the processes of a container only (its monitor and setup stages): what
/// `berth-monitor` runs. A network's DNS server runs from `berth` itself, so the monitor of
/// every container does not carry (and relocate at every start) the DNS library.
pub fn container_entry(argv: &[std::ffi::OsString]) {
    let arg = |i: usize| argv.get(i).and_then(|a| a.to_str());
    let path = |i: usize| argv.get(i).map(std::path::PathBuf::from);
    match (arg(1), arg(2)) {
        (Some("__monitor"), Some(_)) => {
            if let (Some(root), Some(id)) = (path(2), arg(3)) {
                let attach = arg(5) == Some("attach");
                crate::engine::monitor::main(&root, id, path(4).as_deref(), attach, arg(6))
            }
        }
        (Some("__resume"), _) => crate::engine::monitor::resume(arg(2)),
        (Some("__health"), Some(_)) => {
            if let (Some(root), Some(id)) = (path(2), arg(3)) {
                crate::engine::monitor::health::check_main(&root, id)
            }
        }
        (Some("oci"), Some("__init1")) => {
            if let Some(d) = path(3) {
                crate::engine::runtime::init1(&d)
            }
        }
        (Some("oci"), Some("__init2")) => {
            if let Some(d) = path(3) {
                crate::engine::runtime::init2(&d)
            }
        }
        (Some("oci"), Some("__exec1")) => {
            if let Some(d) = path(3) {
                crate::engine::runtime::exec1(&d)
            }
        }
        _ => {}
    }
}
