//! Top-level networks, volumes, secrets and configs: full names (`<project>_<key>`, `name:`,
//! or the key itself for external resources), labels and options as maps.

use std::collections::BTreeMap;

use super::{at, resource_name, string_map, Context};
use crate::stack::input::{self, External, Options};
use crate::stack::model::{FileObject, Ipam, IpamPool, Network, Volume};
use crate::stack::Result;

/// The full name of a resource: `name:`, else the deprecated `external.name`, else the key for
/// an external resource, else `<project>_<key>`.
fn full_name(
    kind: &str,
    key: &str,
    name: Option<String>,
    external: Option<&External>,
    ctx: &Context<'_>,
) -> Result<(String, bool)> {
    let is_external = external.is_some_and(External::is_external);
    let legacy = external.and_then(External::name).map(str::to_string);
    let path = format!("{kind}.{key}");
    let name = match (name, legacy) {
        (Some(_), Some(_)) => {
            return Err(ctx.invalid(
                &at(&path, "external.name"),
                format!(
                    "can't use both `{path}.external.name` (deprecated) and `{path}.name`; \
                     keep `name`"
                ),
            ))
        }
        (Some(name), None) | (None, Some(name)) => name,
        (None, None) if is_external => key.to_string(),
        (None, None) => resource_name(ctx.project_name, key),
    };
    Ok((name, is_external))
}

fn options(opts: Option<Options>) -> BTreeMap<String, String> {
    opts.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect()
}

fn labels(labels: Option<input::ListOrDict>) -> BTreeMap<String, String> {
    labels.map(|l| string_map(l.entries())).unwrap_or_default()
}

pub(super) fn network(key: &str, n: input::Network, ctx: &Context<'_>) -> Result<Network> {
    let (name, external) = full_name("networks", key, n.name, n.external.as_ref(), ctx)?;
    let path = format!("networks.{key}");
    if external && (n.driver.is_some() || n.driver_opts.is_some() || n.ipam.is_some()) {
        return Err(ctx.invalid(
            &path,
            "an external network is created outside the project; remove `driver`, \
             `driver_opts` and `ipam`, or `external`",
        ));
    }
    let ipam = n.ipam.map(|ipam| Ipam {
        driver: ipam.driver,
        config: ipam
            .config
            .unwrap_or_default()
            .into_iter()
            .map(|pool| IpamPool {
                subnet: pool.subnet,
                ip_range: pool.ip_range,
                gateway: pool.gateway,
                aux_addresses: pool.aux_addresses.unwrap_or_default(),
            })
            .collect(),
    });
    Ok(Network {
        name,
        driver: n.driver,
        driver_opts: options(n.driver_opts),
        ipam,
        external,
        internal: n.internal.is_some_and(|b| b.0),
        attachable: n.attachable.is_some_and(|b| b.0),
        enable_ipv6: n.enable_ipv6.is_some_and(|b| b.0),
        labels: labels(n.labels),
    })
}

pub(super) fn volume(key: &str, v: input::Volume, ctx: &Context<'_>) -> Result<Volume> {
    let (name, external) = full_name("volumes", key, v.name, v.external.as_ref(), ctx)?;
    if external && (v.driver.is_some() || v.driver_opts.is_some()) {
        return Err(ctx.invalid(
            &format!("volumes.{key}"),
            "an external volume is created outside the project; remove `driver` and \
             `driver_opts`, or `external`",
        ));
    }
    Ok(Volume {
        name,
        driver: v.driver,
        driver_opts: options(v.driver_opts),
        external,
        labels: labels(v.labels),
    })
}

/// Exactly one source unless external.
fn check_sources(
    path: &str,
    external: bool,
    sources: &[(&str, bool)],
    ctx: &Context<'_>,
) -> Result<()> {
    if external {
        return Ok(());
    }
    let names: Vec<String> = sources.iter().map(|(n, _)| format!("`{n}`")).collect();
    match sources.iter().filter(|(_, set)| *set).count() {
        1 => Ok(()),
        0 => Err(ctx.invalid(
            path,
            format!(
                "no content: set one of {} (or `external: true`)",
                names.join(", ")
            ),
        )),
        _ => Err(ctx.invalid(path, format!("set only one of {}", names.join(", ")))),
    }
}

pub(super) fn secret(key: &str, s: input::Secret, ctx: &Context<'_>) -> Result<FileObject> {
    let (name, external) = full_name("secrets", key, s.name, s.external.as_ref(), ctx)?;
    check_sources(
        &format!("secrets.{key}"),
        external,
        &[
            ("file", s.file.is_some()),
            ("environment", s.environment.is_some()),
        ],
        ctx,
    )?;
    Ok(FileObject {
        name,
        file: s.file,
        environment: s.environment,
        content: None,
        external,
        labels: labels(s.labels),
    })
}

pub(super) fn config(key: &str, c: input::Config, ctx: &Context<'_>) -> Result<FileObject> {
    let (name, external) = full_name("configs", key, c.name, c.external.as_ref(), ctx)?;
    check_sources(
        &format!("configs.{key}"),
        external,
        &[
            ("file", c.file.is_some()),
            ("environment", c.environment.is_some()),
            ("content", c.content.is_some()),
        ],
        ctx,
    )?;
    Ok(FileObject {
        name,
        file: c.file,
        environment: c.environment,
        content: c.content,
        external,
        labels: labels(c.labels),
    })
}
