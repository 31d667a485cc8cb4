//! `berth-monitor`: berth's own processes for a container (its monitor, its setup stages)
//! in a binary without the command line, the stack front end or the
//! database, so each running container costs less memory and starts sooner. `berth` starts
//! it when it is installed beside it; it is never run by hand.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    berth::engine::internal::container_entry(&argv);
    eprintln!("berth-monitor runs berth's own processes; it is started by berth, not by hand");
    std::process::exit(2);
}
