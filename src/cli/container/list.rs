//! The tables: `ps` and `stats`.

use std::io::Write;

use anyhow::{bail, Context};

use super::PsArgs;
use crate::engine::container::service::Engine;
use crate::engine::container::view::{self, View};

/// One table (or JSON lines) of `stats`.
pub(super) fn stats_once(
    e: &Engine,
    names: &[String],
    format: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mib = |v: &serde_json::Value| {
        v.as_u64().map_or("-".to_string(), |b| {
            format!("{:.1}MiB", b as f64 / 1048576.0)
        })
    };
    if format == "table" {
        writeln!(
            out,
            "{:<14}{:<24}{:<10}{:<28}PIDS",
            "CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT"
        )?;
    }
    for c in names {
        let s = e.stats(c)?;
        match format {
            "json" => writeln!(out, "{s}")?,
            _ => writeln!(
                out,
                "{:<14}{:<24}{:<10}{:<28}{}",
                s["ID"].as_str().unwrap_or_default(),
                s["Name"].as_str().unwrap_or_default(),
                s["CPUPerc"].as_str().unwrap_or_default(),
                format!("{} / {}", mib(&s["MemUsage"]), mib(&s["MemLimit"])),
                // Unknown without the pids controller (a v2 host that does not delegate it).
                s["PIDs"]
                    .as_u64()
                    .map_or("-".to_string(), |n| n.to_string())
            )?,
        }
    }
    Ok(())
}

fn matches_filter(v: &View, f: &str) -> anyhow::Result<bool> {
    let (k, val) = f
        .split_once('=')
        .with_context(|| format!("--filter `{f}`: use KEY=VALUE"))?;
    let labels = v
        .config
        .as_ref()
        .map(|c| c.labels.clone())
        .unwrap_or_default();
    Ok(match k {
        "label" => match val.split_once('=') {
            Some((lk, lv)) => labels.get(lk).is_some_and(|x| x == lv),
            None => labels.contains_key(val),
        },
        "name" => v.row.name.contains(val),
        "id" => v.row.id.starts_with(val),
        "status" => v.status == val,
        _ => bail!("--filter `{k}` is not supported (use label, name, id or status)"),
    })
}

pub(super) fn ps(e: &Engine, a: &PsArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let mut views = Vec::new();
    for v in e.list(a.all)? {
        for p in &v.problems {
            eprintln!("warning: container {} ({}): {p}", v.row.name, v.short_id());
        }
        let mut keep = true;
        for f in &a.filter {
            keep &= matches_filter(&v, f)?;
        }
        if keep {
            views.push(v);
        }
    }
    views.reverse(); // newest first, as Docker lists
    if a.quiet {
        for v in &views {
            writeln!(out, "{}", if a.no_trunc { &v.row.id } else { v.short_id() })?;
        }
        return Ok(());
    }
    let command = |v: &View| {
        let c = v.config.as_ref().map(|c| {
            c.entrypoint
                .iter()
                .chain(&c.cmd)
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        });
        c.unwrap_or_else(|| "?".into())
    };
    // Docker's PORTS column: `127.0.0.1:8080->80/tcp, 53/udp`.
    let ports = |v: &View| -> String {
        let mut parts = Vec::new();
        for (key, bindings) in e.port_map(v) {
            if bindings.is_empty() {
                parts.push(key.clone());
            }
            for (ip, port) in bindings {
                parts.push(format!("{ip}:{port}->{key}"));
            }
        }
        parts.join(", ")
    };
    match a.format.as_str() {
        "json" => {
            for v in &views {
                let j = serde_json::json!({
                    "ID": v.short_id(), "Image": v.row.image, "Command": command(v),
                    "CreatedAt": v.row.created, "State": v.status,
                    "Status": view::status_text(v), "Names": v.row.name, "Ports": ports(v),
                    "Labels": v.config.as_ref().map(|c| c.labels.iter().map(|(k, x)| format!("{k}={x}")).collect::<Vec<_>>().join(",")).unwrap_or_default(),
                });
                writeln!(out, "{j}")?;
            }
        }
        "table" => {
            writeln!(
                out,
                "{:<14}{:<20}{:<24}{:<26}{:<40}{:<8}NAMES",
                "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS"
            )?;
            for v in &views {
                let mut cmd = format!("\"{}\"", command(v));
                if !a.no_trunc && cmd.len() > 22 {
                    cmd = format!("{}…\"", &cmd[..20]);
                }
                let created = chrono::DateTime::parse_from_rfc3339(&v.row.created)
                    .map(|t| {
                        format!(
                            "{} ago",
                            view::human(chrono::Utc::now().signed_duration_since(t))
                        )
                    })
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{:<14}{:<20}{:<24}{:<26}{:<40}{:<8}{}",
                    v.short_id(),
                    v.row.image,
                    cmd,
                    created,
                    view::status_text(v),
                    ports(v),
                    v.row.name
                )?;
            }
        }
        other => bail!("--format `{other}`: use table or json"),
    }
    Ok(())
}
