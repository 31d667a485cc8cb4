//! The `networks` and `endpoints` tables: networks berth made, and each container's address
//! on each network it is connected to. `UNIQUE(network, ip)` makes an address taken twice
//! impossible, however many berth processes allocate at once.

use rusqlite::{params, OptionalExtension};

use super::{Db, Result, StateError};

#[derive(Debug, Clone, PartialEq)]
pub struct NetworkRow {
    pub name: String,
    pub id: String,
    pub created: String,
    pub subnet: String,
    pub gateway: String,
    pub internal: bool,
    /// JSON object.
    pub labels: String,
    pub bridge: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointRow {
    pub container: String,
    pub network: String,
    pub ip: String,
    pub mac: String,
    /// JSON array.
    pub aliases: String,
}

pub(super) const MIGRATION: &str = "CREATE TABLE networks (
        name TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL,
        subnet TEXT NOT NULL UNIQUE,
        gateway TEXT NOT NULL,
        internal INTEGER NOT NULL DEFAULT 0,
        labels TEXT NOT NULL DEFAULT '{}',
        bridge TEXT NOT NULL UNIQUE
    );
    CREATE TABLE endpoints (
        container TEXT NOT NULL,
        network TEXT NOT NULL,
        ip TEXT NOT NULL,
        mac TEXT NOT NULL,
        aliases TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (container, network),
        UNIQUE (network, ip)
    );";

const NET_COLUMNS: &str = "name, id, created, subnet, gateway, internal, labels, bridge";

fn net_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NetworkRow> {
    Ok(NetworkRow {
        name: r.get(0)?,
        id: r.get(1)?,
        created: r.get(2)?,
        subnet: r.get(3)?,
        gateway: r.get(4)?,
        internal: r.get::<_, i64>(5)? != 0,
        labels: r.get(6)?,
        bridge: r.get(7)?,
    })
}

fn endpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EndpointRow> {
    Ok(EndpointRow {
        container: r.get(0)?,
        network: r.get(1)?,
        ip: r.get(2)?,
        mac: r.get(3)?,
        aliases: r.get(4)?,
    })
}

impl Db {
    /// Adds a network; `Ok(false)` when its name, subnet or bridge is taken.
    pub fn network_insert(&self, n: &NetworkRow) -> Result<bool> {
        let r = self.conn.execute(
            &format!(
                "INSERT INTO networks ({NET_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ),
            params![
                n.name,
                n.id,
                n.created,
                n.subnet,
                n.gateway,
                n.internal as i64,
                n.labels,
                n.bridge
            ],
        );
        match r {
            Ok(_) => Ok(true),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Ok(false)
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// A network by name, full ID or unique ID prefix.
    pub fn network_get(&self, key: &str) -> Result<Option<NetworkRow>> {
        let exact = self
            .conn
            .query_row(
                &format!("SELECT {NET_COLUMNS} FROM networks WHERE name = ?1 OR id = ?1"),
                params![key],
                net_row,
            )
            .optional()
            .map_err(|e| self.err(e))?;
        if exact.is_some() || key.len() < 3 {
            return Ok(exact);
        }
        let found: Vec<NetworkRow> = self
            .network_all()?
            .into_iter()
            .filter(|n| n.id.starts_with(key))
            .collect();
        match found.len() {
            1 => Ok(found.into_iter().next()),
            0 => Ok(None),
            _ => Err(StateError::Ambiguous {
                prefix: key.to_string(),
                matches: found.iter().map(|n| n.name.clone()).collect(),
            }),
        }
    }

    pub fn network_all(&self) -> Result<Vec<NetworkRow>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {NET_COLUMNS} FROM networks ORDER BY name"))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], net_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e));
        rows
    }

    pub fn network_remove(&self, name: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM networks WHERE name = ?1", params![name])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records an endpoint with the address `pick` chooses among the ones in use, in one
    /// transaction (concurrent allocations serialise). `pick` returns `None` when the
    /// network is full, `Err` for a refused static address.
    pub fn endpoint_allocate(
        &self,
        container: &str,
        network: &str,
        aliases: &str,
        pick: impl FnOnce(&[String]) -> std::result::Result<(String, String), String>,
    ) -> Result<std::result::Result<EndpointRow, String>> {
        // BEGIN IMMEDIATE takes the write lock first (waiting out others' within the busy
        // timeout), so the addresses read are still free when the new one is written.
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))?;
        let r = self.allocate_locked(container, network, aliases, pick);
        let end = match &r {
            Ok(Ok(_)) => "COMMIT",
            _ => "ROLLBACK",
        };
        self.conn.execute_batch(end).map_err(|e| self.err(e))?;
        r
    }

    fn allocate_locked(
        &self,
        container: &str,
        network: &str,
        aliases: &str,
        pick: impl FnOnce(&[String]) -> std::result::Result<(String, String), String>,
    ) -> Result<std::result::Result<EndpointRow, String>> {
        let used: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare("SELECT ip FROM endpoints WHERE network = ?1")
                .map_err(|e| self.err(e))?;
            let ips = stmt
                .query_map(params![network], |r| r.get(0))
                .map_err(|e| self.err(e))?
                .collect::<rusqlite::Result<Vec<String>>>()
                .map_err(|e| self.err(e))?;
            ips
        };
        let (ip, mac) = match pick(&used) {
            Ok(x) => x,
            Err(message) => return Ok(Err(message)),
        };
        let row = EndpointRow {
            container: container.into(),
            network: network.into(),
            ip,
            mac,
            aliases: aliases.into(),
        };
        self.conn
            .execute(
                "INSERT INTO endpoints (container, network, ip, mac, aliases) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![row.container, row.network, row.ip, row.mac, row.aliases],
            )
            .map_err(|e| self.err(e))?;
        Ok(Ok(row))
    }

    /// Endpoints of a container (`Some`) or of a network (`None` and `network`).
    pub fn endpoints(
        &self,
        container: Option<&str>,
        network: Option<&str>,
    ) -> Result<Vec<EndpointRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT container, network, ip, mac, aliases FROM endpoints \
                 WHERE (?1 IS NULL OR container = ?1) AND (?2 IS NULL OR network = ?2) \
                 ORDER BY network, ip",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![container, network], endpoint_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e));
        rows
    }

    pub fn endpoint_remove(&self, container: &str, network: Option<&str>) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM endpoints WHERE container = ?1 AND (?2 IS NULL OR network = ?2)",
                params![container, network],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_endpoints() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(tmp.path()).unwrap();
        let n = NetworkRow {
            name: "front".into(),
            id: "ab".repeat(32),
            created: "2026-11-29T00:00:00Z".into(),
            subnet: "172.18.0.0/24".into(),
            gateway: "172.18.0.1".into(),
            internal: false,
            labels: "{}".into(),
            bridge: "bth-ababababab".into(),
        };
        assert!(db.network_insert(&n).unwrap());
        let mut same_subnet = n.clone();
        same_subnet.name = "other".into();
        same_subnet.id = "cd".repeat(32);
        same_subnet.bridge = "bth-cdcdcdcdcd".into();
        assert!(
            !db.network_insert(&same_subnet).unwrap(),
            "a subnet is used once"
        );
        assert_eq!(db.network_get("front").unwrap(), Some(n.clone()));
        assert_eq!(db.network_get("abab").unwrap(), Some(n.clone()));
        let pick =
            |used: &[String]| Ok((format!("172.18.0.{}", used.len() + 2), "02:42".to_string()));
        let a = db
            .endpoint_allocate("c1", "front", "[]", pick)
            .unwrap()
            .unwrap();
        let b = db
            .endpoint_allocate("c2", "front", "[]", pick)
            .unwrap()
            .unwrap();
        assert_eq!((a.ip.as_str(), b.ip.as_str()), ("172.18.0.2", "172.18.0.3"));
        let refused = db
            .endpoint_allocate("c3", "front", "[]", |_| Err("taken".into()))
            .unwrap();
        assert_eq!(refused, Err("taken".to_string()));
        assert_eq!(db.endpoints(None, Some("front")).unwrap().len(), 2);
        db.endpoint_remove("c1", None).unwrap();
        assert_eq!(db.endpoints(Some("c1"), None).unwrap(), vec![]);
        db.network_remove("front").unwrap();
        assert_eq!(db.network_get("front").unwrap(), None);
    }
}

/// A published port of a running container, as bound (`ports` table).
#[derive(Debug, Clone, PartialEq)]
pub struct PortRow {
    pub container: String,
    pub proto: String,
    pub host_ip: String,
    pub host_port: u16,
    pub container_ip: String,
    pub container_port: u16,
    /// The bridge the container sits on.
    pub bridge: String,
}

pub(super) const PORTS_MIGRATION: &str = "CREATE TABLE ports (
        container TEXT NOT NULL,
        proto TEXT NOT NULL,
        host_ip TEXT NOT NULL,
        host_port INTEGER NOT NULL,
        container_ip TEXT NOT NULL,
        container_port INTEGER NOT NULL,
        bridge TEXT NOT NULL
    );";

impl Db {
    /// Replaces a container's published ports.
    pub fn ports_set(&self, container: &str, rows: &[PortRow]) -> Result<()> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))?;
        let r = (|| -> rusqlite::Result<()> {
            self.conn
                .execute("DELETE FROM ports WHERE container = ?1", params![container])?;
            for p in rows {
                self.conn.execute(
                    "INSERT INTO ports (container, proto, host_ip, host_port, container_ip, \
                     container_port, bridge) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        p.container,
                        p.proto,
                        p.host_ip,
                        p.host_port,
                        p.container_ip,
                        p.container_port,
                        p.bridge
                    ],
                )?;
            }
            Ok(())
        })();
        let end = if r.is_ok() { "COMMIT" } else { "ROLLBACK" };
        self.conn.execute_batch(end).map_err(|e| self.err(e))?;
        r.map_err(|e| self.err(e))
    }

    /// Published ports of one container (`Some`) or of all.
    pub fn ports(&self, container: Option<&str>) -> Result<Vec<PortRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT container, proto, host_ip, host_port, container_ip, container_port, bridge \
                 FROM ports WHERE (?1 IS NULL OR container = ?1) ORDER BY container_port, proto",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![container], |r| {
                Ok(PortRow {
                    container: r.get(0)?,
                    proto: r.get(1)?,
                    host_ip: r.get(2)?,
                    host_port: r.get(3)?,
                    container_ip: r.get(4)?,
                    container_port: r.get(5)?,
                    bridge: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e));
        rows
    }
}
