//! Service parts with their own defaults: build, command, healthcheck, deploy, logging,
//! ulimits, extra hosts, secrets/configs references, pull policy.

use std::collections::BTreeMap;

use super::{at, env, mounts, string_map, Context};
use crate::stack::input::{
    self, Build, Command, ExtraHosts, FileRef, Float, StringOrList, Ulimit as UlimitInput,
};
use crate::stack::model::{
    self, Deploy, DeployRestartPolicy, ExtraHost, FileReference, Healthcheck, Logging,
    ResourceSpec, Resources, Ulimit,
};
use crate::stack::positions::join_index;
use crate::stack::syntax::{hosts, ulimits};
use crate::stack::Result;

pub(super) fn build(b: Build, path: &str, ctx: &Context<'_>) -> Result<model::Build> {
    let b = match b {
        Build::Context(context) => input::BuildLong {
            context: Some(context),
            ..Default::default()
        },
        Build::Long(long) => *long,
    };
    if b.dockerfile.is_some() && b.dockerfile_inline.is_some() {
        return Err(ctx.invalid(
            path,
            "`dockerfile` and `dockerfile_inline` can't be used together; keep one",
        ));
    }
    let dockerfile = match (&b.dockerfile, &b.dockerfile_inline) {
        (None, None) => Some("Dockerfile".to_string()),
        (d, _) => d.clone(),
    };
    Ok(model::Build {
        context: b
            .context
            .unwrap_or_else(|| ctx.project_dir.display().to_string()),
        dockerfile,
        dockerfile_inline: b.dockerfile_inline,
        args: env::build_args(b.args, ctx),
        target: b.target,
        labels: b
            .labels
            .map(|l| string_map(l.entries()))
            .unwrap_or_default(),
        cache_from: b.cache_from.unwrap_or_default(),
        network: b.network,
        extra_hosts: match b.extra_hosts {
            Some(h) => extra_hosts(h, &at(path, "extra_hosts"), ctx)?,
            None => Vec::new(),
        },
        shm_size: ctx.bytes(&at(path, "shm_size"), b.shm_size)?,
    })
}

/// A command string is split into words as a POSIX shell would (no expansion).
pub(super) fn command(c: Command, path: &str, ctx: &Context<'_>) -> Result<Vec<String>> {
    match c {
        Command::Exec(words) => Ok(words),
        Command::Shell(s) => shell_words::split(&s).map_err(|e| {
            ctx.invalid(
                path,
                format!(
                    "cannot split `{s}` into words ({e}); balance its quotes or write it as a list"
                ),
            )
        }),
    }
}

pub(super) fn healthcheck(
    h: input::Healthcheck,
    path: &str,
    ctx: &Context<'_>,
) -> Result<Healthcheck> {
    let disable = h.disable.is_some_and(|d| d.0);
    let test = match h.test {
        None => Vec::new(),
        Some(StringOrList::One(s)) => vec!["CMD-SHELL".to_string(), s],
        Some(StringOrList::List(list)) => {
            match list.first().map(String::as_str) {
                Some("NONE" | "CMD" | "CMD-SHELL") => {}
                Some(first) => {
                    return Err(ctx.invalid(
                        &at(path, "test"),
                        format!(
                            "a test list starts with `CMD`, `CMD-SHELL` or `NONE`, not `{first}`; \
                             e.g. [\"CMD\", \"curl\", \"-f\", \"http://localhost\"]"
                        ),
                    ))
                }
                None => {
                    return Err(ctx.invalid(
                        &at(path, "test"),
                        "empty test; write a command, or `disable: true`",
                    ))
                }
            }
            list
        }
    };
    let test_disables = test.first().is_some_and(|t| t == "NONE");
    if disable && !test.is_empty() && !test_disables {
        return Err(ctx.invalid(
            path,
            "`disable: true` and a `test` can't be set together; remove one",
        ));
    }
    Ok(Healthcheck {
        test,
        interval: ctx.duration(&at(path, "interval"), h.interval)?,
        timeout: ctx.duration(&at(path, "timeout"), h.timeout)?,
        retries: h.retries.map(|r| r.0),
        start_period: ctx.duration(&at(path, "start_period"), h.start_period)?,
        start_interval: ctx.duration(&at(path, "start_interval"), h.start_interval)?,
        disable: disable || test_disables,
    })
}

/// CPUs: a non-negative finite number.
pub(super) fn cpus(value: Option<Float>, path: &str, ctx: &Context<'_>) -> Result<Option<f64>> {
    match value {
        Some(Float(f)) if !(f.is_finite() && f >= 0.0) => Err(ctx.invalid(
            path,
            format!("invalid CPU count {f}; use a non-negative number such as 0.5 or 2"),
        )),
        other => Ok(other.map(|f| f.0)),
    }
}

pub(super) fn replicas(
    value: Option<input::UInt>,
    path: &str,
    ctx: &Context<'_>,
) -> Result<Option<u32>> {
    value
        .map(|n| {
            u32::try_from(n.0)
                .map_err(|_| ctx.invalid(path, format!("{} replicas is too many", n.0)))
        })
        .transpose()
}

fn resource_spec(
    limits: Option<(
        Option<Float>,
        Option<input::IntOrString>,
        Option<input::Int>,
    )>,
    path: &str,
    ctx: &Context<'_>,
) -> Result<Option<ResourceSpec>> {
    let Some((cpu, memory, pids)) = limits else {
        return Ok(None);
    };
    Ok(Some(ResourceSpec {
        cpus: cpus(cpu, &at(path, "cpus"), ctx)?,
        memory: ctx.bytes(&at(path, "memory"), memory)?,
        pids: pids.map(|p| p.0),
    }))
}

pub(super) fn deploy(d: input::Deploy, path: &str, ctx: &Context<'_>) -> Result<Deploy> {
    let resources = match d.resources {
        Some(r) => Some(Resources {
            limits: resource_spec(
                r.limits.map(|l| (l.cpus, l.memory, l.pids)),
                &at(path, "resources.limits"),
                ctx,
            )?,
            reservations: resource_spec(
                r.reservations.map(|l| (l.cpus, l.memory, None)),
                &at(path, "resources.reservations"),
                ctx,
            )?,
        }),
        None => None,
    };
    let restart_policy = match d.restart_policy {
        Some(p) => {
            let rp = at(path, "restart_policy");
            if let Some(c) = &p.condition {
                if !["none", "on-failure", "any"].contains(&c.as_str()) {
                    return Err(ctx.invalid(
                        &at(&rp, "condition"),
                        format!("invalid condition `{c}`; use `none`, `on-failure` or `any`"),
                    ));
                }
            }
            Some(DeployRestartPolicy {
                condition: p.condition,
                delay: ctx.duration(&at(&rp, "delay"), p.delay)?,
                max_attempts: p.max_attempts.map(|m| m.0),
                window: ctx.duration(&at(&rp, "window"), p.window)?,
            })
        }
        None => None,
    };
    Ok(Deploy {
        replicas: replicas(d.replicas, &at(path, "replicas"), ctx)?,
        resources,
        restart_policy,
        labels: d
            .labels
            .map(|l| string_map(l.entries()))
            .unwrap_or_default(),
    })
}

pub(super) fn logging(l: input::Logging) -> Logging {
    Logging {
        driver: l.driver.unwrap_or_else(|| "json-file".to_string()),
        options: l
            .options
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?.0)))
            .collect(),
    }
}

pub(super) fn ulimits(
    map: BTreeMap<String, UlimitInput>,
    path: &str,
    ctx: &Context<'_>,
) -> Result<BTreeMap<String, Ulimit>> {
    map.into_iter()
        .map(|(name, u)| {
            let (soft, hard) = match u {
                UlimitInput::Single(n) => (n.0, n.0),
                UlimitInput::Pair(p) => (p.soft.0, p.hard.0),
            };
            let limit =
                ulimits::ulimit(&name, soft, hard).map_err(|e| ctx.invalid(&at(path, &name), e))?;
            Ok((name, limit))
        })
        .collect()
}

pub(super) fn extra_hosts(h: ExtraHosts, path: &str, ctx: &Context<'_>) -> Result<Vec<ExtraHost>> {
    let mut out = Vec::new();
    match h {
        ExtraHosts::List(list) => {
            for (i, entry) in list.iter().enumerate() {
                out.extend(
                    hosts::parse_extra_hosts(entry)
                        .map_err(|e| ctx.invalid(&join_index(path, i), e))?,
                );
            }
        }
        ExtraHosts::Map(map) => {
            for (host, ips) in map {
                for ip in ips.into_vec() {
                    out.push(
                        hosts::extra_host(&host, &ip)
                            .map_err(|e| ctx.invalid(&at(path, &host), e))?,
                    );
                }
            }
        }
    }
    Ok(out)
}

/// Service `secrets` / `configs`: short names become long entries with the default target
/// (`/run/secrets/<source>` or `/<source>`); a relative target goes under the same directory.
pub(super) fn file_refs(
    refs: Option<Vec<FileRef>>,
    path: &str,
    target_dir: &str,
    ctx: &Context<'_>,
) -> Result<Vec<FileReference>> {
    let target_for = |t: &str| {
        if t.starts_with('/') {
            t.to_string()
        } else {
            format!("{target_dir}{t}")
        }
    };
    refs.unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let item = join_index(path, i);
            Ok(match r {
                FileRef::Short(source) => FileReference {
                    target: target_for(&source),
                    source,
                    uid: None,
                    gid: None,
                    mode: None,
                },
                FileRef::Long(l) => {
                    let Some(source) = l.source.filter(|s| !s.is_empty()) else {
                        return Err(
                            ctx.invalid(&item, "`source` is required; name the secret or config")
                        );
                    };
                    FileReference {
                        target: target_for(l.target.as_deref().unwrap_or(&source)),
                        source,
                        uid: l.uid,
                        gid: l.gid,
                        mode: l
                            .mode
                            .map(|m| mounts::file_mode(m, &at(&item, "mode"), ctx))
                            .transpose()?,
                    }
                }
            })
        })
        .collect()
}

/// `pull_policy`, with `if_not_present` renamed `missing` as Compose does.
pub(super) fn pull_policy(
    p: Option<String>,
    path: &str,
    ctx: &Context<'_>,
) -> Result<Option<String>> {
    let Some(p) = p else {
        return Ok(None);
    };
    let every_ok = |d: &str| {
        !d.is_empty()
            && d.split_inclusive(|c: char| "wdhms".contains(c))
                .all(|part| {
                    let (num, unit) = part.split_at(part.len() - 1);
                    !num.is_empty()
                        && num.bytes().all(|b| b.is_ascii_digit())
                        && "wdhms".contains(unit)
                })
    };
    match p.as_str() {
        "always" | "never" | "missing" | "build" | "daily" | "weekly" => Ok(Some(p)),
        "if_not_present" => Ok(Some("missing".to_string())),
        s if s.strip_prefix("every_").is_some_and(every_ok) => Ok(Some(p)),
        _ => Err(ctx.invalid(
            path,
            format!(
                "invalid pull policy `{p}`; use always, never, missing, build, daily, weekly \
                 or every_<duration> (e.g. every_12h)"
            ),
        )),
    }
}
