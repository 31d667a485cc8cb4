//! Service volume short syntax: `[SOURCE:]TARGET[:MODE[,MODE...]]`, parsed like compose-go's
//! `format.ParseVolume`. OWNER: helper H4.
//!
//! A source starting with `/`, `.` or `~` is a bind mount (the path stage has already made it
//! absolute) and gets `bind.create_host_path: true`; any other source is a named volume; no
//! source at all is an anonymous volume. Modes: `ro`, `rw`, `nocopy`, SELinux `z`/`Z`, bind
//! propagation (`shared`, `rshared`, `slave`, `rslave`, `private`, `rprivate`), and the
//! macOS-only consistency modes `consistent`, `cached`, `delegated` (accepted and ignored).
//! Unlike compose-go, which silently drops unknown modes, an unknown mode is an error.

use crate::stack::model::{BindOptions, ServiceVolume, VolumeKind, VolumeOptions};

/// Bind propagation modes.
pub const PROPAGATIONS: [&str; 6] = [
    "rprivate", "private", "rshared", "shared", "rslave", "slave",
];

/// Consistency modes Docker Desktop once used; accepted and ignored.
const CONSISTENCY: [&str; 3] = ["consistent", "cached", "delegated"];

/// Parses one short-syntax entry. A source starting with `.`, `/` or `~` is a bind mount
/// (already made absolute by the path stage), otherwise a named volume; no source is an
/// anonymous volume.
pub fn parse_short(spec: &str) -> Result<ServiceVolume, String> {
    if spec.is_empty() {
        return Err(
            "empty volume; expected [SOURCE:]TARGET[:MODE], e.g. `data:/var/lib/data`".into(),
        );
    }
    if spec.chars().any(char::is_control) {
        return Err(format!(
            "volume {spec:?} contains a control character; remove it"
        ));
    }
    let mut volume = ServiceVolume {
        kind: VolumeKind::Volume,
        source: None,
        target: String::new(),
        read_only: false,
        bind: None,
        volume: None,
        tmpfs: None,
    };
    if spec.len() <= 2 {
        // compose-go takes a one- or two-character spec as the target of an anonymous
        // volume, without volume options.
        volume.target = spec.to_string();
        check_target(spec, &volume.target)?;
        return Ok(volume);
    }

    let parts: Vec<&str> = spec.split(':').collect();
    let last = parts.len() - 1;
    let mut source: Option<&str> = None;
    let mut target: Option<&str> = None;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            return Err(format!(
                "volume `{spec}` has an empty part between colons; expected \
                 [SOURCE:]TARGET[:MODE]"
            ));
        }
        if source.is_none() && i == last {
            target = Some(part);
        } else if source.is_none() {
            source = Some(part);
        } else if target.is_none() {
            target = Some(part);
        } else if i != last {
            return Err(format!(
                "volume `{spec}` has too many colons; expected [SOURCE:]TARGET[:MODE]"
            ));
        } else {
            apply_modes(spec, part, &mut volume)?;
        }
    }
    volume.target = target.unwrap_or_default().to_string();
    check_target(spec, &volume.target)?;
    volume.source = source.map(str::to_string);

    if source.is_some_and(is_file_path) {
        volume.kind = VolumeKind::Bind;
        volume
            .bind
            .get_or_insert_with(BindOptions::default)
            .create_host_path = true;
    } else {
        volume.kind = VolumeKind::Volume;
        volume.volume.get_or_insert_with(VolumeOptions::default);
    }
    Ok(volume)
}

fn check_target(spec: &str, target: &str) -> Result<(), String> {
    if target.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "volume `{spec}`: the container path `{target}` must be absolute (start with `/`)"
        ))
    }
}

fn apply_modes(spec: &str, modes: &str, volume: &mut ServiceVolume) -> Result<(), String> {
    for mode in modes.split(',') {
        match mode {
            "ro" => volume.read_only = true,
            "rw" => volume.read_only = false,
            "nocopy" => {
                volume.volume = Some(VolumeOptions {
                    nocopy: true,
                    ..Default::default()
                })
            }
            "z" | "Z" => {
                volume.bind.get_or_insert_with(BindOptions::default).selinux =
                    Some(mode.to_string())
            }
            m if PROPAGATIONS.contains(&m) => {
                volume
                    .bind
                    .get_or_insert_with(BindOptions::default)
                    .propagation = Some(m.to_string())
            }
            m if CONSISTENCY.contains(&m) => {}
            "" => {
                return Err(format!(
                    "volume `{spec}` has an empty mode; separate modes with single commas"
                ))
            }
            other => {
                return Err(format!(
                    "volume `{spec}` has an unknown mode `{other}`; use ro, rw, nocopy, z, Z, \
                     {}, or consistent/cached/delegated",
                    PROPAGATIONS.join(", ")
                ))
            }
        }
    }
    Ok(())
}

/// Whether a short-syntax source is a host path rather than a volume name.
pub fn is_file_path(source: &str) -> bool {
    matches!(source.as_bytes().first(), Some(b'.' | b'/' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(source: &str, target: &str) -> ServiceVolume {
        ServiceVolume {
            kind: VolumeKind::Bind,
            source: Some(source.into()),
            target: target.into(),
            read_only: false,
            bind: Some(BindOptions {
                create_host_path: true,
                ..Default::default()
            }),
            volume: None,
            tmpfs: None,
        }
    }

    #[test]
    fn anonymous_volume() {
        let v = parse_short("/data").unwrap();
        assert_eq!(v.kind, VolumeKind::Volume);
        assert_eq!(v.source, None);
        assert_eq!(v.target, "/data");
        assert_eq!(v.volume, Some(VolumeOptions::default()));
        // A two-character spec gets no volume options (compose-go quirk).
        let v = parse_short("/a").unwrap();
        assert_eq!((v.target.as_str(), v.volume), ("/a", None));
    }

    #[test]
    fn named_volume() {
        let v = parse_short("name:/data").unwrap();
        assert_eq!(v.kind, VolumeKind::Volume);
        assert_eq!(v.source.as_deref(), Some("name"));
        assert_eq!(v.volume, Some(VolumeOptions::default()));
        assert_eq!(v.bind, None);
        let v = parse_short("name:/data:rw,nocopy").unwrap();
        assert!(!v.read_only);
        assert_eq!(
            v.volume,
            Some(VolumeOptions {
                nocopy: true,
                subpath: None
            })
        );
    }

    #[test]
    fn bind_mounts() {
        assert_eq!(parse_short("/abs:/data").unwrap(), bind("/abs", "/data"));
        assert_eq!(parse_short("./rel:/data").unwrap(), bind("./rel", "/data"));
        assert_eq!(parse_short("~/x:/data").unwrap(), bind("~/x", "/data"));
        let mut ro = bind("/abs", "/data");
        ro.read_only = true;
        assert_eq!(parse_short("/abs:/data:ro").unwrap(), ro);
        let v = parse_short("/abs:/data:ro,Z,rshared,cached").unwrap();
        let b = v.bind.unwrap();
        assert!(v.read_only && b.create_host_path);
        assert_eq!(b.selinux.as_deref(), Some("Z"));
        assert_eq!(b.propagation.as_deref(), Some("rshared"));
        let v = parse_short("/abs:/data:z,slave,delegated,consistent").unwrap();
        assert_eq!(v.bind.unwrap().propagation.as_deref(), Some("slave"));
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert!(parse_short("").unwrap_err().contains("empty volume"));
        let e = parse_short(":/data").unwrap_err();
        assert!(e.contains("empty part"), "{e}");
        let e = parse_short("/foo::ro").unwrap_err();
        assert!(e.contains("empty part"), "{e}");
        let e = parse_short("/foo:/foo:ro:x").unwrap_err();
        assert!(e.contains("too many colons"), "{e}");
        let e = parse_short("/foo:/foo:bogus").unwrap_err();
        assert!(e.contains("unknown mode `bogus`"), "{e}");
        let e = parse_short("/foo:/foo:ro,").unwrap_err();
        assert!(e.contains("empty mode"), "{e}");
        let e = parse_short("data:relative").unwrap_err();
        assert!(e.contains("`relative` must be absolute"), "{e}");
        let e = parse_short("data").unwrap_err();
        assert!(e.contains("`data` must be absolute"), "{e}");
        let e = parse_short(".").unwrap_err();
        assert!(e.contains("absolute"), "{e}");
        let e = parse_short("a:/b\n").unwrap_err();
        assert!(e.contains("control character"), "{e}");
    }
}
