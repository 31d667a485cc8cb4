//! `berth-supervisor`: the loop a container's monitor hands over to once the container runs
//! (output to the log and attach clients, stop requests, health checks, reaping), in a binary
//! that holds nothing else, so what stays resident for a running container is small. The
//! monitor execs it (same PID) and it execs the monitor again when the container exits; it is
//! never run by hand.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match argv.get(1).and_then(|a| a.to_str()) {
        Some("__supervise") => berth::engine::monitor::handover::supervisor_main(&argv),
        Some("__version") => berth::engine::monitor::handover::supervisor_version(),
        _ => {}
    }
    eprintln!("berth-supervisor is started by a container's monitor, not by hand");
    std::process::exit(2);
}
