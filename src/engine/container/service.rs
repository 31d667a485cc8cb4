//! The engine's container service: create (settings merged with the image's, Docker's way),
//! start (spawns the monitor and waits until the process runs, within a deadline), stop,
//! kill, list, wait (remove: `removal`). Every command first folds the monitors' records into the database.

use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::records::{self, MonitorConfig, StopRequest};
pub use super::request::CreateRequest;
use super::request::{merge, random_name};
use super::view::{observe, View};
use super::{check_name, new_id, ContainerError, Paths, Result};
use crate::engine::image::store::ImageStore;
use crate::engine::state::{ContainerRow, Db, StateError};
use crate::engine::volume::MountsHeld;

/// Default size at which a container's log rotates.
const LOG_MAX_SIZE: u64 = 20 << 20;

/// How long `start` waits for the monitor's report: beyond the runtime's own deadlines for a
/// setup (30 s) and a start (10 s), so the monitor's error arrives first.
const START_REPORT: Duration = Duration::from_secs(60);

/// How `start` starts.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Attach before the process starts (`run -i/-t`).
    pub attach: bool,
    /// The terminal's size (rows, columns) for `-t`.
    pub console_size: Option<(u16, u16)>,
}

pub struct Engine {
    pub paths: Paths,
    pub db: Db,
}

impl Engine {
    pub fn open(root: &Path) -> Result<Engine> {
        let paths = Paths::new(root);
        paths
            .secure()
            .map_err(|e| ContainerError::io(&paths.run, e))?;
        Ok(Engine {
            db: Db::open(root)?,
            paths,
        })
    }

    pub(super) fn images(&self) -> Result<ImageStore> {
        Ok(ImageStore::open(&self.paths.images())?)
    }

    /// A container by name, ID or unique ID prefix, observed (and folded into the database).
    pub fn get(&self, key: &str) -> Result<View> {
        let v = self.peek(key)?;
        if self.auto_removable(&v) {
            // A `--rm` container whose monitor finished is gone, with its anonymous volumes,
            // as with Docker.
            let _ = self.remove_view(&v, true);
            return Err(StateError::NotFound(key.to_string()).into());
        }
        Ok(v)
    }

    /// As [`Engine::get`], but a finished `--rm` container is still returned (for the command
    /// that waits for its exit code and removes it itself).
    pub fn peek(&self, key: &str) -> Result<View> {
        let row = self.db.resolve(key)?;
        Ok(self.fold(observe(&self.paths, row)))
    }

    /// A `--rm` container that exited for good (its monitor done).
    fn auto_removable(&self, v: &View) -> bool {
        v.config.as_ref().is_some_and(|c| c.host.auto_remove)
            && v.status == "exited"
            && v.monitor.is_none()
    }

    /// Records a newer exit into the database (a container that is done releases its
    /// published ports).
    fn fold(&self, mut v: View) -> View {
        let publishes = v
            .config
            .as_ref()
            .is_some_and(|c| !c.host.port_bindings.is_empty() || c.host.publish_all_ports);
        if publishes && matches!(v.status, "exited" | "dead") && v.monitor.is_none() {
            self.release_ports(&v.row.id);
        }
        if let Some(e) = &v.exit {
            if e.seq as i64 != v.row.record_seq || v.row.status != v.status {
                v.row.status = v.status.to_string();
                v.row.exit_code = Some(e.code.into());
                v.row.oom_killed = e.oom_killed;
                v.row.started_at = Some(e.started_at.clone());
                v.row.finished_at = Some(e.finished_at.clone());
                v.row.restart_count = e.restart_count.into();
                v.row.record_seq = e.seq as i64;
                let _ = self.db.update_state(&v.row);
            }
        }
        v
    }

    /// Every container (all = stopped ones too), oldest first. `--rm` containers whose
    /// monitor has finished are removed on the way.
    pub fn list(&self, all: bool) -> Result<Vec<View>> {
        let mut out = Vec::new();
        for row in self.db.all()? {
            let v = self.fold(observe(&self.paths, row));
            if self.auto_removable(&v) {
                let _ = self.remove_view(&v, true);
                continue;
            }
            if all || v.is_running() {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// `create`: records the container and prepares its directory. Returns the view.
    pub fn create(&self, req: &CreateRequest) -> Result<View> {
        let images = self.images()?;
        let image = images.image(&req.image)?;
        // Before anything is made: an image whose layers cannot be named is refused here.
        let lowers = images.lower_dirs(&image.id)?;
        let id = new_id();
        let name = match &req.name {
            Some(n) => {
                check_name(n)?;
                n.clone()
            }
            None => random_name(&id),
        };
        let mut cfg = merge(req, &image.config);
        cfg.image = req.image.clone();
        cfg.image_id = image.id.clone();
        if cfg.entrypoint.is_empty() && cfg.cmd.is_empty() {
            return Err(ContainerError::Invalid(format!(
                "no command: image {} has no Cmd or Entrypoint; give one after the image name",
                req.image
            )));
        }
        if cfg.host.init {
            super::spec::find_init()?;
        }
        super::hostfiles::check(&cfg)?;
        let mut made = Vec::new();
        let resolved = self
            .resolve_network(&id, &mut cfg)
            .and_then(|_| self.resolve_mounts(&mut cfg, &mut made));
        let row = ContainerRow {
            id: id.clone(),
            name,
            image: req.image.clone(),
            image_id: image.id.clone(),
            created: records::now(),
            config: serde_json::to_string(&cfg).expect("serialisable"),
            status: "created".into(),
            exit_code: None,
            oom_killed: false,
            started_at: None,
            finished_at: None,
            restart_count: 0,
            record_seq: 0,
        };
        let dir = self.paths.dir(&id);
        // A create that fails leaves nothing: its address, the volumes it made, its directory.
        let undo = |made: Vec<String>| {
            let _ = self.db.endpoint_remove(&id, None);
            for name in made {
                let _ = self.volumes().remove(&name);
            }
            let _ = std::fs::remove_dir_all(&dir);
        };
        let prepared = resolved.and_then(|_| {
            for d in ["upper", "work", "rootfs", "files", "bundle"] {
                std::fs::create_dir_all(dir.join(d)).map_err(|e| ContainerError::io(&dir, e))?;
            }
            Ok(())
        });
        if let Err(e) = prepared {
            undo(made);
            return Err(e);
        }
        let monitor = MonitorConfig {
            id: id.clone(),
            name: row.name.clone(),
            lowers,
            image_dir: images.dir().to_path_buf(),
            restart: cfg.host.restart_policy,
            stop_signal: cfg.stop_signal.clone(),
            stop_timeout: cfg.stop_timeout,
            auto_remove: cfg.host.auto_remove,
            health: cfg.health.clone(),
            log_max_size: LOG_MAX_SIZE,
            tty: cfg.tty,
            open_stdin: cfg.open_stdin,
        };
        let written = records::write(&dir.join("monitor.json"), &monitor)
            .map_err(|e| ContainerError::io(&dir, e));
        let inserted = written.and_then(|_| Ok(self.db.insert(&row)?));
        if let Err(e) = inserted {
            undo(made);
            return Err(e);
        }
        images.hold(&id, &image.id)?;
        if let Some(net) = cfg.networks.keys().next() {
            if let Err(e) = self.refresh_dns(net) {
                tracing::warn!("updating the DNS records of {net}: {e}");
            }
        }
        Ok(observe(&self.paths, row))
    }

    /// Writes the files and the runtime spec the container starts with; the sockets of its
    /// published ports and, with writable mounts, the volumes' fill lock held until it runs.
    fn prepare(
        &self,
        v: &View,
        opts: &StartOptions,
    ) -> Result<(Vec<std::os::fd::OwnedFd>, Option<MountsHeld>)> {
        let cfg = v.config.as_ref().ok_or_else(|| ContainerError::Failed {
            name: v.row.name.clone(),
            message: v.config_error.clone().unwrap_or_default(),
        })?;
        let dir = self.paths.dir(&v.row.id);
        let monitor: MonitorConfig =
            records::read(&dir.join("monitor.json")).ok_or_else(|| ContainerError::Failed {
                name: v.row.name.clone(),
                message: "its monitor.json is missing: remove it with rm -f".into(),
            })?;
        crate::engine::monitor::mount_rootfs(&self.paths, &monitor).map_err(|message| {
            ContainerError::Failed {
                name: v.row.name.clone(),
                message,
            }
        })?;
        let hostname = if cfg.hostname.is_empty() {
            v.row.id[..12].to_string()
        } else {
            cfg.hostname.clone()
        };
        let files = dir.join("files");
        let io = |e| ContainerError::io(&files, e);
        std::fs::write(files.join("hostname"), format!("{hostname}\n")).map_err(io)?;
        let (hosts, resolv) = self.network_files(v, cfg, &hostname)?;
        std::fs::write(files.join("hosts"), hosts).map_err(io)?;
        std::fs::write(files.join("resolv.conf"), resolv).map_err(io)?;
        let netns = self.prepare_network(v, cfg)?;
        let (sources, mounts_held) = self.mount_sources(&v.row.id, cfg, &dir.join("rootfs"))?;
        let mut spec = super::spec::build(cfg, &v.row.id, &dir.join("rootfs"), &files, &sources)?;
        if let (Some(path), Some(linux)) = (netns, spec.linux_mut()) {
            if let Some(nss) = linux.namespaces_mut() {
                for ns in nss.iter_mut() {
                    if ns.typ() == oci_spec::runtime::LinuxNamespaceType::Network {
                        ns.set_path(Some(path.clone()));
                    }
                }
            }
        }
        if let (Some((rows, cols)), Some(p)) = (opts.console_size, spec.process_mut()) {
            let size: oci_spec::runtime::Box =
                serde_json::from_value(serde_json::json!({"height": rows, "width": cols}))
                    .expect("a console size");
            p.set_console_size(Some(size));
        }
        let config = dir.join("bundle/config.json");
        let json = serde_json::to_vec(&spec).expect("a spec serialises");
        crate::engine::private::write(&config, &json).map_err(|e| ContainerError::Failed {
            name: v.row.name.clone(),
            message: format!("writing {}: {e}", config.display()),
        })?;
        Ok((self.publish(v, cfg)?, mounts_held))
    }

    /// `start`: spawns the monitor and returns once the container's process runs.
    pub fn start(&self, key: &str) -> Result<View> {
        self.start_with(key, &StartOptions::default())
            .map(|(v, _)| v)
    }

    /// `start`, optionally attached (the returned stream, connected before the process
    /// starts so no output is missed).
    pub fn start_with(&self, key: &str, opts: &StartOptions) -> Result<(View, Option<UnixStream>)> {
        let v = self.get(key)?;
        if v.is_running() {
            return Ok((v, None));
        }
        let t0 = Instant::now();
        // No volume is filled until the container runs (it mounts them meanwhile).
        let (held, _mounts_held) = self.prepare(&v, opts)?;
        tracing::debug!(elapsed = ?t0.elapsed(), "prepared (rootfs mounted, spec written)");
        // The monitor inherits the sockets holding the published host ports.
        for fd in &held {
            let _ = rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty());
        }
        let id = v.row.id.clone();
        let run_dir = self.paths.run_dir(&id);
        crate::engine::private::create_dir(&run_dir)
            .map_err(|e| ContainerError::io(&run_dir, e))?;
        let sock = run_dir.join("start.sock");
        let _ = std::fs::remove_file(&sock);
        let listener = crate::engine::runtime::unixsock::bind(&sock)
            .map_err(|e| ContainerError::io(&sock, e))?;
        let runtime_root = self.paths.runtime_root();
        let exes = crate::engine::internal::helper_exes(&runtime_root)
            .map_err(|e| ContainerError::io(Path::new("/proc/self/exe"), e))?;
        let exe = crate::engine::runtime::exe::fd_path(exes.monitor.as_fd());
        // The monitor keeps both binaries (descriptors it is told the numbers of).
        let passed = [Some(&exes.monitor), exes.supervisor.as_ref()].map(|fd| {
            fd.map_or("-".to_string(), |fd| {
                let _ = rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty());
                fd.as_raw_fd().to_string()
            })
        });
        let mut monitor = Command::new(&exe);
        monitor
            .arg0("berth-monitor")
            .arg("__monitor")
            .arg(&self.paths.root)
            .arg(&id)
            .arg(&sock)
            .arg(if opts.attach { "attach" } else { "-" })
            .arg(passed.join(","))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(monitor_log(&run_dir));
        if let Some(run) = std::env::var_os("BERTH_RUN") {
            monitor.env("BERTH_RUN", run);
        }
        let spawned = monitor.spawn();
        drop(held);
        drop(exes);
        if let Err(e) = spawned {
            self.release_ports(&id);
            return Err(ContainerError::io(&exe, e));
        }
        let stream = if opts.attach {
            let path = run_dir.join("attach.sock");
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                match crate::engine::runtime::unixsock::connect(&path) {
                    Ok(s) => break Some(s),
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(1))
                    }
                    Err(e) => return Err(ContainerError::io(&path, e)),
                }
            }
        } else {
            None
        };
        tracing::debug!(elapsed = ?t0.elapsed(), "monitor spawned");
        let reply = read_reply(&listener, START_REPORT);
        tracing::debug!(elapsed = ?t0.elapsed(), "monitor reported");
        let _ = std::fs::remove_file(&sock);
        if !reply.as_ref().is_ok_and(|l| l.starts_with("started ")) {
            self.release_ports(&id);
        }
        match reply {
            // peek: a --rm container that is already done is still the caller's to remove.
            Ok(line) if line.starts_with("started ") => Ok((self.peek(&id)?, stream)),
            Ok(line) => Err(ContainerError::Failed {
                name: v.row.name.clone(),
                message: line.strip_prefix("error ").unwrap_or(&line).to_string(),
            }),
            Err(message) => Err(ContainerError::Failed {
                name: v.row.name.clone(),
                message,
            }),
        }
    }

    /// `stop`: the stop signal, then SIGKILL after `timeout` seconds; no restart follows.
    pub fn stop(&self, key: &str, timeout: Option<u32>) -> Result<View> {
        let v = self.get(key)?;
        if !v.is_running() {
            return Ok(v);
        }
        let cfg = v.config.clone().unwrap_or_default();
        let req = StopRequest {
            signal: if cfg.stop_signal.is_empty() {
                "TERM".into()
            } else {
                cfg.stop_signal.clone()
            },
            timeout: timeout.unwrap_or(cfg.stop_timeout),
        };
        self.request_stop(&v, &req)?;
        // Stopped for good (stop cancels restarts): its published ports go now, not when a
        // later command notices.
        self.release_ports(&v.row.id);
        self.get(&v.row.id)
    }

    fn request_stop(&self, v: &View, req: &StopRequest) -> Result<()> {
        let run_dir = self.paths.run_dir(&v.row.id);
        let deadline = Instant::now() + Duration::from_secs(u64::from(req.timeout) + 30);
        match &v.monitor {
            Some(m) => {
                records::write(&run_dir.join("stop.json"), req)
                    .map_err(|e| ContainerError::io(&run_dir, e))?;
                signal(m.pid, "USR1");
                while m.alive() {
                    if Instant::now() > deadline {
                        return Err(ContainerError::Failed {
                            name: v.row.name.clone(),
                            message: "it did not stop in time: its monitor does not answer \
                                      (rm -f removes it all the same)"
                                .into(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            None => {
                // Unsupervised: stop it ourselves through the runtime.
                let runtime_root = self.paths.runtime_root();
                let _ = crate::engine::runtime::kill(&runtime_root, &v.row.id, &req.signal);
                let kill_at = Instant::now() + Duration::from_secs(req.timeout.into());
                while v.running.as_ref().is_some_and(|r| r.process.alive()) {
                    if Instant::now() > kill_at {
                        let _ = crate::engine::runtime::kill(&runtime_root, &v.row.id, "KILL");
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                let oom_killed = crate::engine::runtime::oom_killed(&runtime_root, &v.row.id);
                let _ = crate::engine::runtime::delete(&runtime_root, &v.row.id, true);
                crate::engine::monitor::unmount_rootfs(&self.paths, &v.row.id);
                let _ = std::fs::remove_file(run_dir.join("running.json"));
                // Nobody waited for its status: record the stop as a kill.
                let exit = records::Exit {
                    seq: v.exit.as_ref().map_or(0, |e| e.seq) + 1,
                    code: 128 + 9,
                    oom_killed,
                    started_at: v
                        .running
                        .as_ref()
                        .map(|r| r.started_at.clone())
                        .unwrap_or_default(),
                    finished_at: records::now(),
                    restart_count: v.running.as_ref().map_or(0, |r| r.restart_count),
                    restarting: false,
                    error: "its monitor had exited; berth stopped it directly".into(),
                    stopped: true,
                };
                let _ = records::write_durable(&self.paths.dir(&v.row.id).join("exit.json"), &exit);
            }
        }
        Ok(())
    }

    /// `kill`: a signal to the container's process. KILL (or the stop signal) also cancels the
    /// restart policy, as a stop does.
    pub fn kill(&self, key: &str, sig: &str) -> Result<()> {
        let v = self.get(key)?;
        if !matches!(v.status, "running" | "paused") {
            return Err(ContainerError::WrongState {
                name: v.row.name.clone(),
                status: v.status.to_string(),
                hint: "kill needs a running container",
            });
        }
        crate::engine::runtime::parse_signal(sig)?;
        let norm = |s: &str| s.trim_start_matches("SIG").to_ascii_uppercase();
        let stop_signal = v
            .config
            .as_ref()
            .map(|c| norm(&c.stop_signal))
            .unwrap_or_default();
        if (norm(sig) == "KILL" || norm(sig) == "9" || norm(sig) == stop_signal)
            && v.monitor.is_some()
        {
            let req = StopRequest {
                signal: sig.to_string(),
                timeout: 3600,
            };
            return self.request_stop(&v, &req);
        }
        crate::engine::runtime::kill(&self.paths.runtime_root(), &v.row.id, sig)?;
        Ok(())
    }

    /// `wait`: blocks until the container is not running; its exit code.
    pub fn wait(&self, key: &str) -> Result<i32> {
        let id = self.peek(key)?.row.id;
        loop {
            let v = self.peek(&id)?;
            if !v.is_running() && v.monitor.is_none() {
                return Ok(v.exit.map_or(0, |e| e.code));
            }
            // The monitor exits once the container is done for good; an unsupervised one
            // is looked at again every 10 ms.
            match &v.monitor {
                Some(m) => m.wait_exit(Duration::from_millis(500)),
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// Connects to a running container's attach socket.
    pub fn attach(&self, key: &str) -> Result<(View, UnixStream)> {
        let v = self.get(key)?;
        if v.monitor.is_none() || !v.is_running() {
            return Err(ContainerError::WrongState {
                name: v.row.name.clone(),
                status: v.status.to_string(),
                hint: "attach needs a running container with its monitor",
            });
        }
        let path = self.paths.run_dir(&v.row.id).join("attach.sock");
        let s = crate::engine::runtime::unixsock::connect(&path)
            .map_err(|e| ContainerError::io(&path, e))?;
        Ok((v, s))
    }

    pub fn log_path(&self, v: &View) -> PathBuf {
        self.paths.log(&v.row.id)
    }
}

/// The monitor's own diagnostics (a panic, a failed cleanup) go to `<run>/<id>/monitor.log`.
fn monitor_log(run_dir: &Path) -> Stdio {
    crate::engine::private::open(&run_dir.join("monitor.log"), true)
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

pub(super) fn signal(pid: i32, sig: &str) {
    if let (Some(p), Ok(s)) = (
        rustix::process::Pid::from_raw(pid),
        crate::engine::runtime::parse_signal(sig),
    ) {
        let _ = rustix::process::kill_process(p, s);
    }
}

/// One line from the first connection to `listener`, within `timeout`; else why not.
fn read_reply(listener: &UnixListener, timeout: Duration) -> std::result::Result<String, String> {
    let late = || {
        format!(
            "its monitor did not report a start within {} s (remove it with rm -f)",
            timeout.as_secs()
        )
    };
    let deadline = Instant::now() + timeout;
    let stream =
        crate::engine::runtime::unixsock::accept_within(listener, deadline).map_err(|_| late())?;
    stream
        .set_read_timeout(Some(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(10)),
        ))
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|_| late())?;
    let line = line.trim_end().to_string();
    if line.is_empty() {
        return Err(
            "its monitor ended before the container started (it was removed or \
                    killed; its monitor.log may say more)"
                .into(),
        );
    }
    Ok(line)
}
