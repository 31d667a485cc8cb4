//! One service: input -> canonical model.

use std::collections::BTreeMap;

use super::{at, env, mounts, parts, string_map, Context};
use crate::stack::input::{self, DependsOn, ServiceNetworks, StringOrList};
use crate::stack::model::{self, Dependency, DependencyCondition, ServiceNetwork};
use crate::stack::syntax::{ports, restart};
use crate::stack::Result;

fn flag(b: Option<input::Bool>) -> bool {
    b.is_some_and(|b| b.0)
}

fn list(v: Option<StringOrList>) -> Vec<String> {
    v.map(StringOrList::into_vec).unwrap_or_default()
}

pub(super) fn service(name: &str, s: input::Service, ctx: &Context<'_>) -> Result<model::Service> {
    let base = format!("services.{name}");
    let p = |key: &str| at(&base, key);

    let deploy = s
        .deploy
        .map(|d| parts::deploy(d, &p("deploy"), ctx))
        .transpose()?;
    let scale = parts::replicas(s.scale, &p("scale"), ctx)?;
    let replicas = deploy.as_ref().and_then(|d| d.replicas);
    if let (Some(scale), Some(replicas)) = (scale, replicas) {
        if scale != replicas {
            return Err(ctx.invalid(
                &p("scale"),
                format!(
                    "`scale` ({scale}) and `deploy.replicas` ({replicas}) disagree; set only \
                     `deploy.replicas`"
                ),
            ));
        }
    }

    let expose: Vec<String> = s
        .expose
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.0)
        .collect();
    for (i, e) in expose.iter().enumerate() {
        ports::validate_expose(e).map_err(|err| {
            ctx.invalid(&crate::stack::positions::join_index(&p("expose"), i), err)
        })?;
    }
    if let Some(r) = &s.restart {
        restart::parse_restart(r).map_err(|e| ctx.invalid(&p("restart"), e))?;
    }
    if let Some(adj) = s.oom_score_adj {
        if !(-1000..=1000).contains(&adj.0) {
            return Err(ctx.invalid(
                &p("oom_score_adj"),
                format!("{} is out of range; use -1000 to 1000", adj.0),
            ));
        }
    }
    let memswap_limit = match s.memswap_limit {
        None => None,
        Some(input::IntOrString::Int(n)) => Some(n),
        Some(input::IntOrString::Str(s)) if s == "-1" => Some(-1),
        Some(other) => ctx
            .bytes(&p("memswap_limit"), Some(other))?
            .map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
    };

    let mut out = model::Service {
        name: name.to_string(),
        profiles: s.profiles.unwrap_or_default(),
        build: s
            .build
            .map(|b| parts::build(b, &p("build"), ctx))
            .transpose()?,
        cap_add: s.cap_add.unwrap_or_default(),
        cap_drop: s.cap_drop.unwrap_or_default(),
        command: s
            .command
            .map(|c| parts::command(c, &p("command"), ctx))
            .transpose()?,
        configs: parts::file_refs(s.configs, &p("configs"), "/", ctx)?,
        container_name: s.container_name,
        cpus: parts::cpus(s.cpus, &p("cpus"), ctx)?,
        cpu_shares: s.cpu_shares.map(|c| c.0),
        cpuset: s.cpuset,
        depends_on: depends_on(s.depends_on),
        scale: scale.or(replicas),
        deploy,
        devices: mounts::devices(s.devices.unwrap_or_default(), &p("devices"), ctx)?,
        dns: list(s.dns),
        dns_opt: s.dns_opt.unwrap_or_default(),
        dns_search: list(s.dns_search),
        domainname: s.domainname,
        entrypoint: s
            .entrypoint
            .map(|c| parts::command(c, &p("entrypoint"), ctx))
            .transpose()?,
        environment: env::environment(&base, s.env_file, s.environment, ctx)?,
        expose,
        external_links: s.external_links.unwrap_or_default(),
        extra_hosts: match s.extra_hosts {
            Some(h) => parts::extra_hosts(h, &p("extra_hosts"), ctx)?,
            None => Vec::new(),
        },
        group_add: s
            .group_add
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.0)
            .collect(),
        healthcheck: s
            .healthcheck
            .map(|h| parts::healthcheck(h, &p("healthcheck"), ctx))
            .transpose()?,
        hostname: s.hostname,
        image: s.image,
        init: s.init.map(|b| b.0),
        ipc: s.ipc,
        labels: s
            .labels
            .map(|l| string_map(l.entries()))
            .unwrap_or_default(),
        links: s.links.unwrap_or_default(),
        logging: s.logging.map(parts::logging),
        mem_limit: ctx.bytes(&p("mem_limit"), s.mem_limit)?,
        mem_reservation: ctx.bytes(&p("mem_reservation"), s.mem_reservation)?,
        memswap_limit,
        networks: networks(s.networks),
        network_mode: s.network_mode,
        oom_score_adj: s.oom_score_adj.map(|o| o.0),
        pid: s.pid,
        pids_limit: s.pids_limit.map(|l| l.0),
        platform: s.platform,
        ports: mounts::ports(s.ports.unwrap_or_default(), &p("ports"), ctx)?,
        privileged: flag(s.privileged),
        pull_policy: parts::pull_policy(s.pull_policy, &p("pull_policy"), ctx)?,
        read_only: flag(s.read_only),
        restart: s.restart,
        secrets: parts::file_refs(s.secrets, &p("secrets"), "/run/secrets/", ctx)?,
        security_opt: s.security_opt.unwrap_or_default(),
        shm_size: ctx.bytes(&p("shm_size"), s.shm_size)?,
        stdin_open: flag(s.stdin_open),
        stop_grace_period: ctx.duration(&p("stop_grace_period"), s.stop_grace_period)?,
        stop_signal: s.stop_signal,
        sysctls: s
            .sysctls
            .map(|l| string_map(l.entries()))
            .unwrap_or_default(),
        tmpfs: list(s.tmpfs),
        tty: flag(s.tty),
        ulimits: parts::ulimits(s.ulimits.unwrap_or_default(), &p("ulimits"), ctx)?,
        user: s.user,
        volumes: mounts::volumes(s.volumes.unwrap_or_default(), &p("volumes"), ctx)?,
        volumes_from: s.volumes_from.unwrap_or_default(),
        working_dir: s.working_dir,
    };
    if out.networks.is_empty() && out.network_mode.is_none() {
        out.networks.insert("default".to_string(), None);
    }
    add_implicit_dependencies(&mut out);
    Ok(out)
}

fn depends_on(d: Option<DependsOn>) -> BTreeMap<String, Dependency> {
    let started = || Dependency {
        condition: DependencyCondition::ServiceStarted,
        required: true,
        restart: false,
    };
    match d {
        None => BTreeMap::new(),
        Some(DependsOn::List(names)) => names.into_iter().map(|n| (n, started())).collect(),
        Some(DependsOn::Map(map)) => map
            .into_iter()
            .map(|(n, dep)| {
                let condition = match dep.condition {
                    input::Condition::ServiceStarted => DependencyCondition::ServiceStarted,
                    input::Condition::ServiceHealthy => DependencyCondition::ServiceHealthy,
                    input::Condition::ServiceCompletedSuccessfully => {
                        DependencyCondition::ServiceCompletedSuccessfully
                    }
                };
                let dep = Dependency {
                    condition,
                    required: dep.required.is_none_or(|r| r.0),
                    restart: dep.restart.is_some_and(|r| r.0),
                };
                (n, dep)
            })
            .collect(),
    }
}

/// Compose's implicit dependencies: `links` (`svc[:alias]`), `network_mode`/`ipc`/`pid`
/// `service:x`, and `volumes_from` (`svc[:ro|rw]`, not `container:x`); an explicit
/// `depends_on` entry wins.
fn add_implicit_dependencies(s: &mut model::Service) {
    let mut implicit: Vec<(String, bool)> = Vec::new();
    for link in &s.links {
        let svc = link.split(':').next().unwrap_or_default();
        implicit.push((svc.to_string(), true));
    }
    for namespace in [&s.network_mode, &s.ipc, &s.pid].into_iter().flatten() {
        if let Some(svc) = namespace.strip_prefix("service:") {
            implicit.push((svc.to_string(), true));
        }
    }
    for from in &s.volumes_from {
        if from.starts_with("container:") {
            continue;
        }
        let svc = from.split(':').next().unwrap_or_default();
        implicit.push((svc.to_string(), false));
    }
    for (svc, restart) in implicit {
        if svc.is_empty() {
            continue;
        }
        s.depends_on.entry(svc).or_insert(Dependency {
            condition: DependencyCondition::ServiceStarted,
            required: true,
            restart,
        });
    }
}

fn networks(n: Option<ServiceNetworks>) -> BTreeMap<String, Option<ServiceNetwork>> {
    match n {
        None => BTreeMap::new(),
        Some(ServiceNetworks::List(names)) => names.into_iter().map(|n| (n, None)).collect(),
        Some(ServiceNetworks::Map(map)) => map
            .into_iter()
            .map(|(name, settings)| {
                let settings = settings.map(|s| ServiceNetwork {
                    aliases: s.aliases.unwrap_or_default(),
                    ipv4_address: s.ipv4_address,
                    ipv6_address: s.ipv6_address,
                    mac_address: s.mac_address,
                    priority: s.priority.map(|p| p.0),
                });
                (name, settings)
            })
            .collect(),
    }
}
