//! The commands that stream a container: `run` (following its log, or attached), `logs`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};

use super::{request, LogsArgs, RunArgs};
use crate::engine::container::config::parse_duration;
use crate::engine::container::logs::{self, Entry, Follower};
use crate::engine::container::service::Engine;
use crate::engine::container::view::View;

pub(super) fn run_container(e: &Engine, a: &RunArgs) -> anyhow::Result<ExitCode> {
    let t0 = std::time::Instant::now();
    let v = e.create(&request(&a.create)?)?;
    let id = v.row.id.clone();
    tracing::debug!(elapsed = ?t0.elapsed(), "created");
    if (a.create.tty || a.create.interactive) && !a.detach {
        return run_attached(e, a, &id);
    }
    let started = e.start(&id);
    tracing::debug!(elapsed = ?t0.elapsed(), "started");
    if let Err(err) = started {
        if a.create.rm {
            let _ = e.remove(&id, true, true);
        }
        return Err(err.into());
    }
    if a.detach {
        println!("{id}");
        return Ok(ExitCode::SUCCESS);
    }
    // Stream the output from the start of the log until the monitor is done.
    let log = e.paths.log(&id);
    let mut follow = Follower::at_start(&log);
    // The monitor exits once the container is done for good (no restart to come).
    let monitor = e.peek(&id)?.monitor.and_then(|m| m.pidfd());
    let code = loop {
        print_entries(&follow.poll(), false);
        let v = e.peek(&id)?;
        if v.monitor.is_none() && !v.is_running() {
            print_entries(&follow.poll(), false);
            tracing::debug!(elapsed = ?t0.elapsed(), "exited");
            break v.exit.map_or(0, |x| x.code);
        }
        use std::os::fd::AsFd;
        follow.wait_or(
            Duration::from_millis(100),
            monitor.as_ref().map(|f| f.as_fd()),
        );
    };
    if a.create.rm {
        e.remove(&id, true, true)?;
        tracing::debug!(elapsed = ?t0.elapsed(), "removed");
    }
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

/// `run -i`/`-t`: attached from before the start; exits with the container's code.
fn run_attached(e: &Engine, a: &RunArgs, id: &str) -> anyhow::Result<ExitCode> {
    let size = rustix::termios::tcgetwinsize(rustix::stdio::stdin())
        .ok()
        .filter(|_| a.create.tty)
        .map(|w| (w.ws_row, w.ws_col));
    let opts = crate::engine::container::service::StartOptions {
        attach: true,
        console_size: size,
    };
    let _raw = if a.create.tty {
        crate::engine::runtime::RawMode::enter()
    } else {
        None
    };
    let stream = match e.start_with(id, &opts) {
        Ok((_, Some(s))) => s,
        Ok((_, None)) => bail!("the container started without an attach stream"),
        Err(err) => {
            if a.create.rm {
                let _ = e.remove(id, true, true);
            }
            return Err(err.into());
        }
    };
    if super::super::attach::session(stream, a.create.tty, a.create.interactive)? {
        return Ok(ExitCode::SUCCESS);
    }
    let code = e.wait(id)?;
    if a.create.rm {
        e.remove(id, true, true)?;
    }
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

fn print_entries(entries: &[Entry], timestamps: bool) {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    for en in entries {
        let line = if timestamps {
            format!("{} {}", en.time, en.log)
        } else {
            en.log.clone()
        };
        let _ = if en.stream == "stderr" {
            err.write_all(line.as_bytes())
        } else {
            out.write_all(line.as_bytes())
        };
    }
    let _ = out.flush();
}

pub(super) fn show_logs(e: &Engine, v: &View, a: &LogsArgs) -> anyhow::Result<()> {
    let path = e.log_path(v);
    let mut follow = Follower::at_end(&path);
    let mut entries = logs::read_all(&path);
    if let Some(since) = &a.since {
        let t = match chrono::DateTime::parse_from_rfc3339(since) {
            Ok(t) => t.with_timezone(&chrono::Utc),
            Err(_) => {
                let ns = parse_duration(since).map_err(anyhow::Error::msg)?;
                chrono::Utc::now() - chrono::TimeDelta::nanoseconds(ns as i64)
            }
        };
        entries.retain(|en| chrono::DateTime::parse_from_rfc3339(&en.time).is_ok_and(|x| x >= t));
    }
    if let Some(n) = a.tail.as_deref().filter(|n| *n != "all") {
        let n: usize = n
            .parse()
            .with_context(|| format!("--tail {n}: not a number"))?;
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
    }
    print_entries(&entries, a.timestamps);
    if a.follow {
        loop {
            print_entries(&follow.poll(), a.timestamps);
            let now = e.get(&v.row.id)?;
            if now.monitor.is_none() && !now.is_running() {
                print_entries(&follow.poll(), a.timestamps);
                return Ok(());
            }
            follow.wait(Duration::from_millis(250));
        }
    }
    Ok(())
}
