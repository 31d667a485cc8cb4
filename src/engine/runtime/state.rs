//! What the runtime records of a container (`<runtime root>/<id>/state.json`) and the OCI
//! state it reports. A container's process is identified by its PID *and* its start time
//! (from /proc), so a reused PID is never mistaken for the container.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::RuntimeError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    pub bundle: PathBuf,
    /// Host PID of the container's process (0 before it exists).
    pub pid: i32,
    /// Its start time in clock ticks since boot (field 22 of /proc/PID/stat).
    pub pid_start: u64,
    /// RFC 3339.
    pub created: String,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// The OCI lifecycle states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// Container ids: what runc accepts.
pub fn check_id(id: &str) -> Result<(), RuntimeError> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+'));
    if ok {
        Ok(())
    } else {
        Err(RuntimeError::InvalidId(id.to_string()))
    }
}

/// The start time of process `pid`, or `None` when it does not exist (or is a zombie).
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after the last `)`.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

impl ContainerState {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    pub fn load(dir: &Path, id: &str) -> Result<ContainerState, RuntimeError> {
        let p = Self::path(dir);
        let data = std::fs::read(&p).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                RuntimeError::NotFound(id.to_string())
            } else {
                RuntimeError::io(&p, e)
            }
        })?;
        serde_json::from_slice(&data).map_err(|e| RuntimeError::Corrupt {
            path: p,
            message: e.to_string(),
        })
    }

    pub fn save(&self, dir: &Path) -> Result<(), RuntimeError> {
        let tmp = dir.join("state.json.tmp");
        crate::engine::private::write(&tmp, &serde_json::to_vec(self).expect("serializable"))
            .map_err(|e| RuntimeError::io(&tmp, e))?;
        std::fs::rename(&tmp, Self::path(dir)).map_err(|e| RuntimeError::io(dir, e))
    }

    /// Where the container is in its lifecycle: its process alive (same PID, same start
    /// time) and still waiting on the exec FIFO is `created`; alive past it, `running`.
    pub fn status(&self, dir: &Path) -> Status {
        if self.pid <= 0 {
            return Status::Creating;
        }
        match start_time(self.pid) {
            Some(t) if t == self.pid_start => {
                if dir.join("exec.fifo").exists() {
                    Status::Created
                } else if std::fs::read_to_string(dir.join("cgroup")).is_ok_and(|rel| {
                    super::cgroup::is_frozen(Path::new(super::cgroup::ROOT), Path::new(&rel))
                }) {
                    Status::Paused
                } else {
                    Status::Running
                }
            }
            _ => Status::Stopped,
        }
    }

    /// The state as `state` prints it (OCI runtime spec).
    pub fn oci_json(&self, dir: &Path) -> serde_json::Value {
        let status = self.status(dir);
        let pid = if status == Status::Stopped {
            0
        } else {
            self.pid
        };
        serde_json::json!({
            "ociVersion": "1.2.0",
            "id": self.id,
            "status": status.as_str(),
            "pid": pid,
            "bundle": self.bundle,
            "created": self.created,
            "annotations": self.annotations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_start_times() {
        assert!(check_id("web-1_a.b+c").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "../x"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
        let me = std::process::id() as i32;
        assert!(start_time(me).is_some());
        assert_eq!(start_time(i32::MAX), None);
    }
}
