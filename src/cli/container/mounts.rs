//! `-v/--volume` (compose's short volume syntax, parsed by the stack front end) and
//! `--mount` (Docker's comma-separated key=value syntax), both made into the engine's
//! [`Mount`].

use std::path::Path;

use anyhow::{bail, Context};

use crate::engine::container::config::parse_size;
use crate::engine::container::mounts::{BindOptions, Mount, TmpfsOptions, VolumeOptions};
use crate::stack::model::{ServiceVolume, VolumeKind};
use crate::stack::syntax::volumes::parse_short;

/// `-v SRC:DST[:MODES]`, `-v DST` (anonymous volume). A relative (`./`, `../`) or `~` source
/// is a host path taken from the current directory or $HOME, as Docker's CLI does.
pub fn volume_flag(spec: &str) -> anyhow::Result<Mount> {
    let mut v = parse_short(spec).map_err(anyhow::Error::msg)?;
    if v.kind == VolumeKind::Bind {
        if let Some(src) = v.source.as_mut() {
            *src = absolute(src)?;
        }
    }
    from_service_volume(&v).with_context(|| format!("-v {spec}"))
}

fn absolute(src: &str) -> anyhow::Result<String> {
    if src.starts_with('/') {
        return Ok(src.to_string());
    }
    let base = if let Some(rest) = src.strip_prefix('~') {
        let home = std::env::var("HOME").context("a `~` path needs $HOME")?;
        return Ok(format!("{home}{rest}"));
    } else {
        std::env::current_dir()?
    };
    Ok(base.join(Path::new(src)).display().to_string())
}

/// The engine's mount for a compose service volume (long or short syntax).
pub fn from_service_volume(v: &ServiceVolume) -> anyhow::Result<Mount> {
    let typ = match v.kind {
        VolumeKind::Bind => "bind",
        VolumeKind::Volume => "volume",
        VolumeKind::Tmpfs => "tmpfs",
        VolumeKind::Npipe => bail!("type npipe (Windows named pipes) does not exist on Linux"),
        VolumeKind::Image => {
            bail!("type image (an image mounted as a volume) is not supported yet by berth")
        }
    };
    let mut m = Mount {
        typ: typ.into(),
        source: v.source.clone().unwrap_or_default(),
        target: v.target.clone(),
        read_only: v.read_only,
        ..Default::default()
    };
    if let Some(b) = &v.bind {
        m.bind_options = Some(BindOptions {
            propagation: b.propagation.clone().unwrap_or_default(),
            non_recursive: false,
            create_mountpoint: b.create_host_path,
        });
    }
    if let Some(o) = &v.volume {
        if o.subpath.is_some() {
            bail!("volume.subpath is not supported yet by berth");
        }
        m.volume_options = Some(VolumeOptions {
            no_copy: o.nocopy,
            ..Default::default()
        });
    }
    if let Some(t) = &v.tmpfs {
        m.tmpfs_options = Some(TmpfsOptions {
            size_bytes: t.size.unwrap_or(0) as i64,
            mode: t.mode.unwrap_or(0),
        });
    }
    Ok(m)
}

fn truth(key: &str, value: Option<&str>) -> anyhow::Result<bool> {
    match value {
        None | Some("1") | Some("true") => Ok(true),
        Some("0") | Some("false") => Ok(false),
        Some(v) => bail!("`{key}={v}`: use true or false"),
    }
}

/// `--mount type=bind|volume|tmpfs,source=...,target=...[,readonly][,...]`.
pub fn mount_flag(spec: &str) -> anyhow::Result<Mount> {
    let mut m = Mount {
        typ: "volume".into(),
        ..Default::default()
    };
    let mut bind = BindOptions::default();
    let mut vol = VolumeOptions::default();
    let mut tmpfs = TmpfsOptions::default();
    // The option families given (`bind-*`, `volume-*`, `tmpfs-*`): each fits one type only.
    let mut families: Vec<&str> = Vec::new();
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        if let Some((family, _)) = key.split_once('-') {
            if ["bind", "volume", "tmpfs"].contains(&family) && !families.contains(&family) {
                families.push(family);
            }
        }
        let need = || value.with_context(|| format!("--mount {spec}: `{key}` needs a value"));
        match key {
            "type" => m.typ = need()?.to_string(),
            "source" | "src" => m.source = need()?.to_string(),
            "target" | "destination" | "dst" => m.target = need()?.to_string(),
            "readonly" | "ro" => m.read_only = truth(key, value)?,
            "bind-propagation" => bind.propagation = need()?.to_string(),
            "bind-nonrecursive" => bind.non_recursive = truth(key, value)?,
            "volume-nocopy" => vol.no_copy = truth(key, value)?,
            "volume-label" => {
                let (k, v) = need()?.split_once('=').unwrap_or((need()?, ""));
                vol.labels.insert(k.into(), v.into());
            }
            "volume-driver" => {
                if need()? != "local" {
                    bail!("--mount {spec}: only the local volume driver exists in berth");
                }
            }
            "volume-opt" => {
                let Some((k, v)) = need()?.split_once('=') else {
                    bail!("--mount {spec}: volume-opt takes KEY=VALUE");
                };
                vol.driver_options.insert(k.into(), v.into());
            }
            "tmpfs-size" => tmpfs.size_bytes = parse_size(need()?).map_err(anyhow::Error::msg)?,
            "tmpfs-mode" => {
                tmpfs.mode = u32::from_str_radix(need()?, 8)
                    .with_context(|| format!("--mount {spec}: tmpfs-mode is octal, e.g. 1770"))?
            }
            "consistency" => {}
            other => bail!(
                "--mount {spec}: unknown key `{other}` (use type, source, target, readonly, \
                 bind-propagation, bind-nonrecursive, volume-nocopy, volume-label, \
                 volume-opt, tmpfs-size, tmpfs-mode)"
            ),
        }
    }
    if m.target.is_empty() {
        bail!("--mount {spec}: target is required");
    }
    if let Some(family) = families.iter().find(|f| **f != m.typ) {
        bail!(
            "--mount {spec}: `{family}-*` options do not apply to type={}; remove them \
             (or use type={family})",
            m.typ
        );
    }
    match m.typ.as_str() {
        "bind" => {
            if !m.source.is_empty() {
                m.source = absolute(&m.source)?;
            }
            m.bind_options = Some(bind);
        }
        "volume" => m.volume_options = Some(vol),
        "tmpfs" => m.tmpfs_options = Some(tmpfs),
        _ => {}
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flags() {
        let m = volume_flag("data:/var/lib/data:ro,nocopy").unwrap();
        assert_eq!(
            (m.typ.as_str(), m.source.as_str(), m.read_only),
            ("volume", "data", true)
        );
        assert!(m.volume_options.unwrap().no_copy);
        let m = volume_flag("/srv:/srv").unwrap();
        assert_eq!(m.typ, "bind");
        assert!(
            m.bind_options.unwrap().create_mountpoint,
            "-v creates the host path"
        );
        let m = volume_flag("./conf:/etc/app").unwrap();
        assert!(
            m.source.starts_with('/') && m.source.ends_with("/./conf"),
            "{}",
            m.source
        );
        let m = volume_flag("/anon").unwrap();
        assert_eq!((m.typ.as_str(), m.source.as_str()), ("volume", ""));
        assert!(volume_flag("data:relative").is_err());
    }

    #[test]
    fn mount_flags() {
        let m =
            mount_flag("type=bind,src=/srv,dst=/data,readonly,bind-propagation=rslave").unwrap();
        assert_eq!(m.typ, "bind");
        assert!(m.read_only);
        let b = m.bind_options.unwrap();
        assert_eq!(b.propagation, "rslave");
        assert!(!b.create_mountpoint, "--mount never creates the host path");
        let m = mount_flag("source=data,target=/d,volume-opt=type=tmpfs,volume-label=a=b").unwrap();
        assert_eq!(m.typ, "volume");
        let o = m.volume_options.unwrap();
        assert_eq!(o.driver_options["type"], "tmpfs");
        assert_eq!(o.labels["a"], "b");
        let m = mount_flag("type=tmpfs,target=/run,tmpfs-size=1m,tmpfs-mode=700").unwrap();
        assert_eq!(
            m.tmpfs_options.unwrap(),
            TmpfsOptions {
                size_bytes: 1 << 20,
                mode: 0o700
            }
        );
        assert!(mount_flag("type=bind,source=/x")
            .unwrap_err()
            .to_string()
            .contains("target"));
        assert!(mount_flag("type=bind,src=/x,dst=/y,colour=red")
            .unwrap_err()
            .to_string()
            .contains("colour"));
        assert!(mount_flag("type=bind,src=/x,dst=/y,readonly=maybe").is_err());
        for mixed in [
            "type=tmpfs,dst=/y,bind-propagation=rshared",
            "type=tmpfs,dst=/y,volume-nocopy",
            "type=bind,src=/x,dst=/y,tmpfs-size=1m",
            "src=v,dst=/y,bind-nonrecursive",
        ] {
            let e = mount_flag(mixed).unwrap_err().to_string();
            assert!(e.contains("do not apply"), "{e}");
        }
    }
}
