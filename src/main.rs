//! The `berth` command line.

fn main() -> std::process::ExitCode {
    berth::cli::main()
}
