//! The container service's side of volumes: resolving a container's mounts at create,
//! making their sources ready at start, who uses a volume, and the `volume` commands that
//! need to know it (rm refuses a volume in use, prune takes the unused ones).
//!
//! A start fills an empty volume from its image only when no other running container has
//! the volume's directory, or one above it, mounted writable (by any volume or bind): such
//! a container could swap a directory of it for a symlink to a host path during the copy.
//! The volume then stays as it is, and a later start fills it. Starts with writable mounts
//! hold the volumes' fill lock shared until their container runs, so a fill never runs
//! beside a container that is about to mount the same directory either.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::config::ContainerConfig;
use super::mounts::{self, MountPoint};
use super::service::Engine;
use super::view::View;
use super::{ContainerError, Result};
use crate::engine::volume::{Fill, MountsHeld, Volume, VolumeError, Volumes};

/// A volume and the containers using it (names; running ones marked).
#[derive(Debug, Clone)]
pub struct VolumeUse {
    pub volume: Volume,
    pub users: Vec<(String, bool)>,
}

impl Engine {
    pub fn volumes(&self) -> Volumes<'_> {
        Volumes::new(&self.paths.root, &self.db)
    }

    /// Fills `cfg.mount_points` from the user's mounts, `--volumes-from` and the image's
    /// VOLUMEs; named volumes are created on first use, anonymous ones made. The names of
    /// the volumes made here go to `made` (removed again if the create fails).
    pub(crate) fn resolve_mounts(
        &self,
        cfg: &mut ContainerConfig,
        made: &mut Vec<String>,
    ) -> Result<()> {
        let vols = self.volumes();
        cfg.host.tmpfs = mounts::resolve_tmpfs(&cfg.host.tmpfs)?;
        let mut points: Vec<MountPoint> = Vec::new();
        for spec in &cfg.host.volumes_from {
            let (key, rw) = mounts::parse_volumes_from(spec)?;
            let other = self.peek(key)?;
            let Some(other_cfg) = other.config.as_ref() else {
                return Err(ContainerError::Invalid(format!(
                    "--volumes-from {spec}: its settings cannot be read"
                )));
            };
            for p in other_cfg.mount_points.iter().filter(|p| p.typ != "tmpfs") {
                let mut p = p.clone();
                p.anonymous = false;
                if let Some(rw) = rw {
                    p.rw = rw;
                }
                points.retain(|q| q.destination != p.destination);
                points.push(p);
            }
        }
        let mut own: Vec<String> = Vec::new();
        for m in &cfg.host.mounts {
            let mut p = mounts::point_of(m)?;
            if own.contains(&p.destination) || cfg.host.tmpfs.contains_key(&p.destination) {
                return Err(ContainerError::Invalid(format!(
                    "duplicate mount point: {}",
                    p.destination
                )));
            }
            own.push(p.destination.clone());
            if p.typ == "volume" {
                let opts = m.volume_options.clone().unwrap_or_default();
                let v = if p.name.is_empty() {
                    let v = vols.create(None, &opts.labels, &opts.driver_options, true)?;
                    made.push(v.name.clone());
                    p.anonymous = true;
                    v
                } else {
                    match vols.get(&p.name) {
                        Ok(v) if opts.driver_options.is_empty() => v,
                        Ok(_) | Err(VolumeError::NotFound(_)) => {
                            vols.create(Some(&p.name), &opts.labels, &opts.driver_options, false)?
                        }
                        Err(e) => return Err(e.into()),
                    }
                };
                p.name = v.name;
            }
            points.retain(|q| q.destination != p.destination);
            points.push(p);
        }
        // The image's VOLUMEs that nothing else covers get anonymous volumes.
        for dest in cfg.volumes.keys() {
            let Ok(dest) = mounts::clean_destination(dest) else {
                continue;
            };
            if points.iter().any(|p| p.destination == dest) || cfg.host.tmpfs.contains_key(&dest) {
                continue;
            }
            let v = vols.create(None, &BTreeMap::new(), &BTreeMap::new(), true)?;
            made.push(v.name.clone());
            points.push(MountPoint {
                typ: "volume".into(),
                name: v.name,
                destination: dest,
                rw: true,
                anonymous: true,
                ..Default::default()
            });
        }
        cfg.mount_points = points;
        Ok(())
    }

    /// At start of container `id`: the host source of each bind and volume mount point (by
    /// destination), made ready: missing bind directories created when asked, tmpfs volumes
    /// mounted, empty volumes filled from the image (whose root filesystem is mounted at
    /// `rootfs`) unless another running container writes to them. With writable mounts, the
    /// fill lock held shared: keep it until the container runs.
    pub(crate) fn mount_sources(
        &self,
        id: &str,
        cfg: &ContainerConfig,
        rootfs: &Path,
    ) -> Result<(BTreeMap<String, PathBuf>, Option<MountsHeld>)> {
        let vols = self.volumes();
        let mut out = BTreeMap::new();
        for p in &cfg.mount_points {
            match p.typ.as_str() {
                "bind" => {
                    let src = PathBuf::from(&p.source);
                    if !src.exists() {
                        if !p.create_source {
                            return Err(ContainerError::Invalid(format!(
                                "bind source path does not exist: {}",
                                p.source
                            )));
                        }
                        std::fs::create_dir_all(&src).map_err(|e| ContainerError::io(&src, e))?;
                    }
                    out.insert(p.destination.clone(), src);
                }
                "volume" => {
                    let v = match vols.get(&p.name) {
                        Ok(v) => v,
                        // Removed with `volume rm -f` while this container was stopped.
                        Err(VolumeError::NotFound(_)) => vols.create(
                            Some(&p.name),
                            &BTreeMap::new(),
                            &BTreeMap::new(),
                            p.anonymous,
                        )?,
                        Err(e) => return Err(e.into()),
                    };
                    let src = vols.source(&v)?;
                    if !p.no_copy {
                        let writers = || self.writers_of(&src, id);
                        let fill = vols.populate(&v, &src, rootfs, &p.destination, writers)?;
                        if let Fill::Deferred(users) = fill {
                            tracing::warn!(
                                "volume {} is not filled from the image's {}: running \
                                 container(s) {} have its directory mounted writable and \
                                 could change it during the copy; a start after they \
                                 stop fills it",
                                v.name,
                                p.destination,
                                users.join(", ")
                            );
                        }
                    }
                    out.insert(p.destination.clone(), src);
                }
                _ => {}
            }
        }
        let writable = cfg
            .mount_points
            .iter()
            .any(|p| p.rw && matches!(p.typ.as_str(), "bind" | "volume"));
        let held = if writable {
            Some(vols.hold_mounts()?)
        } else {
            None
        };
        Ok((out, held))
    }

    /// The running containers other than `except` that have `dir`, or a directory above
    /// it, mounted writable (by a bind or a volume of any name); running ones whose
    /// settings cannot be read are counted too.
    fn writers_of(&self, dir: &Path, except: &str) -> Vec<String> {
        let Ok(dir) = std::fs::canonicalize(dir) else {
            return Vec::new();
        };
        let id = |m: std::fs::Metadata| (m.dev(), m.ino());
        let covering: HashSet<(u64, u64)> = dir
            .ancestors()
            .filter_map(|d| std::fs::metadata(d).ok().map(id))
            .collect();
        let vols = self.volumes();
        let writes = |p: &MountPoint| {
            let source = match p.typ.as_str() {
                "bind" => Some(PathBuf::from(&p.source)),
                "volume" => vols.get(&p.name).and_then(|v| vols.host_dir(&v)).ok(),
                _ => None,
            };
            p.rw && source
                .and_then(|s| std::fs::metadata(s).ok())
                .is_some_and(|m| covering.contains(&id(m)))
        };
        self.all_views()
            .into_iter()
            .filter(|c| c.row.id != except && c.is_running())
            .filter(|c| {
                c.config
                    .as_ref()
                    .is_none_or(|cfg| cfg.mount_points.iter().any(writes))
            })
            .map(|c| c.row.name)
            .collect()
    }

    /// Every volume with the containers that use it.
    pub fn volume_uses(&self) -> Result<Vec<VolumeUse>> {
        let containers = self.all_views();
        let mut out = Vec::new();
        for volume in self.volumes().list()? {
            let users = users_of(&containers, &volume.name);
            out.push(VolumeUse { volume, users });
        }
        Ok(out)
    }

    /// `volume rm`: refuses a volume in use (naming its containers); `force` removes one that
    /// only stopped containers use (they get a new empty one at their next start), never one
    /// a running container has mounted.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        let vols = self.volumes();
        vols.get(name)?;
        let users = users_of(&self.all_views(), name);
        let running: Vec<String> = users
            .iter()
            .filter(|(_, r)| *r)
            .map(|(n, _)| n.clone())
            .collect();
        if !running.is_empty() {
            return Err(VolumeError::InUse {
                name: name.into(),
                users: running,
                hint: "stop and remove those containers first",
            }
            .into());
        }
        if !users.is_empty() && !force {
            return Err(VolumeError::InUse {
                name: name.into(),
                users: users.into_iter().map(|(n, _)| n).collect(),
                hint: "remove those containers first, or use -f",
            }
            .into());
        }
        Ok(vols.remove(name)?)
    }

    /// `volume prune`: removes unused anonymous volumes (every unused volume with `all`).
    pub fn volume_prune(&self, all: bool) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for u in self.volume_uses()? {
            if u.users.is_empty() && (all || u.volume.anonymous) {
                self.volumes().remove(&u.volume.name)?;
                removed.push(u.volume.name);
            }
        }
        Ok(removed)
    }

    /// After `rm -v` (and for `--rm` containers): the container's anonymous volumes that no
    /// other container uses.
    pub(crate) fn remove_anonymous_volumes(&self, v: &View) {
        let Some(cfg) = &v.config else { return };
        let others: Vec<View> = self
            .all_views()
            .into_iter()
            .filter(|o| o.row.id != v.row.id)
            .collect();
        for p in cfg.mount_points.iter().filter(|p| p.anonymous) {
            if users_of(&others, &p.name).is_empty() {
                if let Err(e) = self.volumes().remove(&p.name) {
                    tracing::warn!("removing anonymous volume {}: {e}", p.name);
                }
            }
        }
    }
}

impl Engine {
    /// Every container as observed now, without folding or auto-removal.
    fn all_views(&self) -> Vec<View> {
        self.db
            .all()
            .unwrap_or_default()
            .into_iter()
            .map(|row| super::view::observe(&self.paths, row))
            .collect()
    }
}

fn users_of(containers: &[View], volume: &str) -> Vec<(String, bool)> {
    containers
        .iter()
        .filter(|c| {
            c.config.as_ref().is_some_and(|cfg| {
                cfg.mount_points
                    .iter()
                    .any(|p| p.typ == "volume" && p.name == volume)
            })
        })
        .map(|c| (c.row.name.clone(), c.is_running()))
        .collect()
}
