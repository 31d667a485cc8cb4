//! `ports`, `volumes` and `devices`: short syntax through `syntax::*`, long syntax checked and
//! given its defaults.

use super::{at, Context};
use crate::stack::input::{
    DeviceEntry, IntOrString, PortEntry, PortLong, VolumeEntry, VolumeLong, VolumeType,
};
use crate::stack::model::{
    BindOptions, Device, Port, ServiceVolume, TmpfsOptions, VolumeKind, VolumeOptions,
};
use crate::stack::positions::join_index;
use crate::stack::syntax::{devices, ports, volumes};
use crate::stack::{Result, StackError};

pub(super) fn ports(entries: Vec<PortEntry>, base: &str, ctx: &Context<'_>) -> Result<Vec<Port>> {
    let mut out = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let path = join_index(base, i);
        match entry {
            PortEntry::Number(n) => {
                out.extend(ports::parse_short(&n.to_string()).map_err(|e| ctx.invalid(&path, e))?)
            }
            PortEntry::Short(s) => {
                out.extend(ports::parse_short(&s).map_err(|e| ctx.invalid(&path, e))?)
            }
            PortEntry::Long(long) => out.push(port_long(long, &path, ctx)?),
        }
    }
    Ok(out)
}

fn port_long(p: PortLong, path: &str, ctx: &Context<'_>) -> Result<Port> {
    let target = match p.target {
        Some(t) => ports::parse_port_number(&t.0.to_string())
            .map_err(|e| ctx.invalid(&at(path, "target"), format!("invalid target: {e}")))?,
        None => {
            return Err(ctx.invalid(
                path,
                "`target` (the container port) is required in the long syntax",
            ))
        }
    };
    let published = match p.published.map(|t| t.0) {
        Some(s) if !s.is_empty() => {
            Some(ports::parse_published(&s).map_err(|e| ctx.invalid(&at(path, "published"), e))?)
        }
        _ => None,
    };
    let protocol = match p.protocol {
        Some(proto) => {
            ports::parse_protocol(&proto).map_err(|e| ctx.invalid(&at(path, "protocol"), e))?
        }
        None => "tcp".to_string(),
    };
    let mode = p.mode.unwrap_or_else(|| "ingress".to_string());
    if mode != "ingress" && mode != "host" {
        return Err(ctx.invalid(
            &at(path, "mode"),
            format!("invalid port mode `{mode}`; use `host` or `ingress`"),
        ));
    }
    let host_ip = match p.host_ip {
        Some(ip) if !ip.is_empty() => {
            let bare = ip.trim_start_matches('[').trim_end_matches(']');
            if bare.parse::<std::net::IpAddr>().is_err() {
                return Err(
                    ctx.invalid(&at(path, "host_ip"), format!("`{ip}` is not an IP address"))
                );
            }
            Some(bare.to_string())
        }
        _ => None,
    };
    Ok(Port {
        name: p.name,
        mode,
        host_ip,
        target,
        published,
        protocol,
        app_protocol: p.app_protocol,
    })
}

pub(super) fn volumes(
    entries: Vec<VolumeEntry>,
    base: &str,
    ctx: &Context<'_>,
) -> Result<Vec<ServiceVolume>> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let path = join_index(base, i);
            match entry {
                VolumeEntry::Short(s) => {
                    volumes::parse_short(&s).map_err(|e| ctx.invalid(&path, e))
                }
                VolumeEntry::Long(long) => volume_long(*long, &path, ctx),
            }
        })
        .collect()
}

/// A file mode: an integer as written, a string in octal (`"0440"`, `"755"`).
pub(super) fn file_mode(value: IntOrString, path: &str, ctx: &Context<'_>) -> Result<u32> {
    let mode = match &value {
        IntOrString::Int(n) => u32::try_from(*n).ok(),
        IntOrString::Float(_) => None,
        IntOrString::Str(s) => {
            let digits = s.strip_prefix("0o").unwrap_or(s);
            u32::from_str_radix(digits, 8).ok()
        }
    };
    match mode {
        Some(m) if m <= 0o7777 => Ok(m),
        _ => Err(ctx.invalid(
            path,
            format!("invalid file mode {value:?}; write it in octal, e.g. \"0440\""),
        )),
    }
}

fn volume_long(v: VolumeLong, path: &str, ctx: &Context<'_>) -> Result<ServiceVolume> {
    let kind = match v.kind {
        VolumeType::Bind => VolumeKind::Bind,
        VolumeType::Volume => VolumeKind::Volume,
        VolumeType::Tmpfs => VolumeKind::Tmpfs,
        VolumeType::Npipe => VolumeKind::Npipe,
        VolumeType::Image => VolumeKind::Image,
        VolumeType::Cluster => {
            return Err(StackError::Unsupported {
                at: ctx.place(&at(path, "type")),
                key: "type: cluster".into(),
                message: "cluster volumes are a Swarm feature".into(),
            })
        }
    };
    let target = match v.target {
        Some(t) if !t.is_empty() => t,
        _ => return Err(ctx.invalid(path, "`target` (the path in the container) is required")),
    };
    let source = v.source.filter(|s| !s.is_empty());
    match (kind, &source) {
        (VolumeKind::Bind | VolumeKind::Image | VolumeKind::Npipe, None) => {
            return Err(ctx.invalid(path, "`source` is required for this mount type"))
        }
        (VolumeKind::Tmpfs, Some(_)) => {
            return Err(ctx.invalid(
                &at(path, "source"),
                "a tmpfs mount has no source; remove `source`",
            ))
        }
        _ => {}
    }
    let only_for = |key: &str, set: bool, wanted: VolumeKind| -> Result<()> {
        if set && kind != wanted {
            return Err(ctx.invalid(
                &at(path, key),
                format!("`{key}` options only apply to `type: {key}` mounts; remove them"),
            ));
        }
        Ok(())
    };
    only_for("bind", v.bind.is_some(), VolumeKind::Bind)?;
    only_for("volume", v.volume.is_some(), VolumeKind::Volume)?;
    only_for("tmpfs", v.tmpfs.is_some(), VolumeKind::Tmpfs)?;

    let bind = match v.bind {
        Some(b) => {
            if let Some(p) = &b.propagation {
                if !volumes::PROPAGATIONS.contains(&p.as_str()) {
                    return Err(ctx.invalid(
                        &at(path, "bind.propagation"),
                        format!(
                            "invalid propagation `{p}`; use one of {}",
                            volumes::PROPAGATIONS.join(", ")
                        ),
                    ));
                }
            }
            if let Some(s) = &b.selinux {
                if s != "z" && s != "Z" {
                    return Err(ctx.invalid(
                        &at(path, "bind.selinux"),
                        format!("invalid SELinux relabel `{s}`; use `z` (shared) or `Z` (private)"),
                    ));
                }
            }
            Some(BindOptions {
                propagation: b.propagation,
                create_host_path: b.create_host_path.is_some_and(|c| c.0),
                selinux: b.selinux,
            })
        }
        None => None,
    };
    let volume = v.volume.map(|o| VolumeOptions {
        nocopy: o.nocopy.is_some_and(|n| n.0),
        subpath: o.subpath,
    });
    let tmpfs = match v.tmpfs {
        Some(t) => Some(TmpfsOptions {
            size: ctx.bytes(&at(path, "tmpfs.size"), t.size)?,
            mode: t
                .mode
                .map(|m| file_mode(m, &at(path, "tmpfs.mode"), ctx))
                .transpose()?,
        }),
        None => None,
    };
    Ok(ServiceVolume {
        kind,
        source,
        target,
        read_only: v.read_only.is_some_and(|r| r.0),
        bind,
        volume,
        tmpfs,
    })
}

pub(super) fn devices(
    entries: Vec<DeviceEntry>,
    base: &str,
    ctx: &Context<'_>,
) -> Result<Vec<Device>> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let path = join_index(base, i);
            match entry {
                DeviceEntry::Short(s) => devices::parse_device(&s),
                DeviceEntry::Long(d) => devices::device(
                    &d.source,
                    d.target.as_deref().unwrap_or(&d.source),
                    d.permissions
                        .as_deref()
                        .unwrap_or(devices::DEFAULT_PERMISSIONS),
                ),
            }
            .map_err(|e| ctx.invalid(&path, e))
        })
        .collect()
}
