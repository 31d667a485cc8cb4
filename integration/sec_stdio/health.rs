//! Health checks: their output is a pipe the monitor reads (at most Docker's 4096 bytes
//! kept), never a host file a check could fill /run with or reach through /proc/self/fd.

use super::*;

/// The run directory on a tmpfs of its own (64 MiB), so what a container writes there is
/// measured exactly and bounded; containers removed before it goes.
struct RunTmpfs<'a> {
    b: &'a Berth,
    dir: PathBuf,
}

impl<'a> RunTmpfs<'a> {
    fn mount(b: &'a Berth) -> RunTmpfs<'a> {
        let dir = b.path().join("state/run");
        std::fs::create_dir_all(&dir).unwrap();
        rustix::mount::mount(
            "tmpfs",
            &dir,
            "tmpfs",
            rustix::mount::MountFlags::empty(),
            c"size=64m,mode=0700",
        )
        .unwrap();
        RunTmpfs { b, dir }
    }

    /// Bytes in use.
    fn used(&self) -> u64 {
        let s = rustix::fs::statvfs(&self.dir).unwrap();
        (s.f_blocks - s.f_bfree) * s.f_frsize
    }
}

impl Drop for RunTmpfs<'_> {
    fn drop(&mut self) {
        let ids = self.b.cli(&["ps", "-aq", "--no-trunc"]);
        for id in String::from_utf8_lossy(&ids.stdout).lines() {
            let _ = self.b.cli(&["container", "rm", "-f", id]);
        }
        let _ = rustix::mount::unmount(&self.dir, rustix::mount::UnmountFlags::DETACH);
    }
}

/// Bytes of the regular files under `dir`, `skip` left out.
fn size_under(dir: &Path, skip: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p == skip {
            continue;
        }
        match e.file_type() {
            Ok(t) if t.is_dir() => total += size_under(&p, skip),
            Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => {}
        }
    }
    total
}

fn health(b: &Berth, name: &str) -> serde_json::Value {
    b.inspect("container", name)["State"]["Health"].clone()
}

#[test]
fn a_health_check_cannot_fill_the_run_directory_or_reach_a_host_file() {
    if !root_or_skip("a_health_check_cannot_fill_the_run_directory_or_reach_a_host_file") {
        return;
    }
    let b = Berth::new();
    let run = RunTmpfs::mount(&b);
    probe_image(&b);
    // The check reports its descriptors, writes 100 kB and, the first time, then leaves a
    // writer in a session of its own (out of reach of a kill of the check's process group;
    // started last, so its output never mixes into what the check's own output is).
    let check = "/probe fds; head -c 100000 /dev/zero | tr '\\0' x; \
                 [ -e /tmp/w ] || { touch /tmp/w; \
                 setsid sh -c 'yes; echo $? > /tmp/writer.status' & }";
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "hc",
        "--network",
        "none",
        "--health-cmd",
        check,
        "--health-interval",
        "300ms",
        "--health-retries",
        "1",
        "--health-timeout",
        "10s",
        "probe:1",
    ]);
    let state = b.path().join("state");
    let (run_before, state_before) = (run.used(), size_under(&state, &run.dir));
    // The run directory's use, sampled until the check's writer ended: its peak.
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(run_before));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling, dir) = (peak.clone(), sampling.clone(), run.dir.clone());
        std::thread::spawn(move || {
            use std::sync::atomic::Ordering::Relaxed;
            while sampling.load(Relaxed) {
                if let Ok(s) = rustix::fs::statvfs(&dir) {
                    peak.fetch_max((s.f_blocks - s.f_bfree) * s.f_frsize, Relaxed);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    wait_until("a healthy check", 30, || {
        let h = health(&b, "hc");
        h["Status"] == "healthy" && !h["Log"].as_array().unwrap().is_empty()
    });
    wait_until("the left writer to end", 30, || {
        b.cli(&["exec", "hc", "cat", "/tmp/writer.status"])
            .status
            .success()
    });
    let writer = stdout(&b.cli(&["exec", "hc", "cat", "/tmp/writer.status"]));
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap();
    let run_after = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .max(run.used());
    let state_after = size_under(&state, &run.dir);
    assert!(
        run_after < run_before + (1 << 20),
        "the run directory grew from {run_before} to {run_after} bytes (writer: {writer})"
    );
    assert!(
        state_after < state_before + (1 << 20),
        "the state root grew from {state_before} to {state_after} bytes"
    );
    // Killed by SIGPIPE once the monitor closed its end.
    assert_eq!(writer.trim(), "141", "the left writer's status");
    let h = health(&b, "hc");
    assert_eq!(h["Status"], "healthy", "{h}");
    for entry in h["Log"].as_array().unwrap() {
        let out = entry["Output"].as_str().unwrap();
        // Docker's limit: the first 4096 bytes, "..." when there was more.
        assert!(out.len() <= 4096 + 3, "{} bytes of output kept", out.len());
        assert!(
            out.ends_with("xxx..."),
            "{}",
            &out[out.len().saturating_sub(40)..]
        );
        assert_contained("a health check", out);
        assert_eq!(entry["ExitCode"], 0, "{entry}");
    }
    // A check that times out is killed with what it started, and recorded as such (only
    // the first check is slow; the next ones fail at once).
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--network",
        "none",
        "--health-cmd",
        "[ -e /tmp/slow ] && exit 1; touch /tmp/slow; sh -c 'sleep 123'",
        "--health-interval",
        "300ms",
        "--health-retries",
        "1",
        "--health-timeout",
        "500ms",
        "probe:1",
    ]);
    wait_until("two checks", 30, || {
        health(&b, "slow")["Log"]
            .as_array()
            .is_some_and(|l| l.len() >= 2)
    });
    let entry = health(&b, "slow")["Log"][0].clone();
    assert_eq!(entry["ExitCode"], -1, "{entry}");
    assert_eq!(entry["Output"], "Health check exceeded timeout", "{entry}");
    assert_eq!(health(&b, "slow")["Status"], "unhealthy");
    let top = stdout(&b.cli(&["container", "top", "slow"]));
    assert!(
        !top.contains("sleep 123"),
        "the timed-out check left:\n{top}"
    );
    for name in ["hc", "slow"] {
        b.cli_ok(&["container", "rm", "-f", name]);
    }
    let left: Vec<String> = std::fs::read_dir(run.dir.join("containers"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "run directories left: {left:?}");
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        assert!(
            !(cmd.contains(&*b.path().to_string_lossy()) && cmd.contains("__")),
            "a process of the test's root is left: {cmd}"
        );
    }
}
