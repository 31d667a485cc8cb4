//! The engine's database: SQLite (rusqlite, bundled) at `<root>/berth.db`, holding containers
//! and their settings. The schema is versioned (`PRAGMA user_version`) and migrated forward on
//! open; concurrent berth processes serialise through SQLite's locking (WAL, a busy timeout,
//! and `BEGIN IMMEDIATE` for writes). Monitors never open it: they write exit records as files
//! that the next command folds in.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use thiserror::Error;

mod networks;
mod volumes;
pub use networks::{EndpointRow, NetworkRow, PortRow};
pub use volumes::VolumeRow;

#[derive(Debug, Error)]
pub enum StateError {
    #[error("state database {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "state database {} has schema version {found}, newer than this berth knows ({known}): \
         upgrade berth",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("the name `{0}` is already in use by another container: remove it or pick another")]
    NameInUse(String),
    #[error("no such container: {0}")]
    NotFound(String),
    #[error("`{prefix}` matches several containers ({}): give more of the ID", matches.join(", "))]
    Ambiguous {
        prefix: String,
        matches: Vec<String>,
    },
}

type Result<T> = std::result::Result<T, StateError>;

/// Schema migrations, in order: migration N brings the schema to version N + 1.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        image TEXT NOT NULL,
        image_id TEXT NOT NULL,
        created TEXT NOT NULL,
        config TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'created',
        exit_code INTEGER,
        oom_killed INTEGER NOT NULL DEFAULT 0,
        started_at TEXT,
        finished_at TEXT,
        restart_count INTEGER NOT NULL DEFAULT 0,
        record_seq INTEGER NOT NULL DEFAULT 0
    );",
    "CREATE TABLE volumes (
        name TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        options TEXT NOT NULL DEFAULT '{}',
        anonymous INTEGER NOT NULL DEFAULT 0
    );",
    networks::MIGRATION,
    networks::PORTS_MIGRATION,
];

/// One container as the database holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRow {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub created: String,
    /// The container's settings as JSON (the engine's `ContainerConfig`).
    pub config: String,
    /// The last state folded in from the monitor's records.
    pub status: String,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub restart_count: i64,
    /// The sequence number of the last exit record folded in.
    pub record_seq: i64,
}

pub struct Db {
    conn: Connection,
    path: PathBuf,
}

const COLUMNS: &str = "id, name, image, image_id, created, config, status, exit_code, oom_killed, \
                       started_at, finished_at, restart_count, record_seq";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ContainerRow> {
    Ok(ContainerRow {
        id: r.get(0)?,
        name: r.get(1)?,
        image: r.get(2)?,
        image_id: r.get(3)?,
        created: r.get(4)?,
        config: r.get(5)?,
        status: r.get(6)?,
        exit_code: r.get(7)?,
        oom_killed: r.get::<_, i64>(8)? != 0,
        started_at: r.get(9)?,
        finished_at: r.get(10)?,
        restart_count: r.get(11)?,
        record_seq: r.get(12)?,
    })
}

impl Db {
    /// Opens (creating and migrating) `<root>/berth.db`.
    pub fn open(root: &Path) -> Result<Db> {
        let path = root.join("berth.db");
        let err = |source| StateError::Sqlite {
            path: path.clone(),
            source,
        };
        if let Err(e) = crate::engine::private::create_dir(root) {
            return Err(err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))));
        }
        // Made 0600 before SQLite creates it (0644), with its WAL and shared-memory files,
        // which take the database's mode: it holds containers' settings and environments.
        if let Err(e) = crate::engine::private::open(&path, true) {
            return Err(err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))));
        }
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(err)?;
        // Switching a new database to WAL needs it to itself: while another process creates
        // it, SQLite answers "busy" at once, without the busy timeout. Wait as that would.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                other => {
                    other.map_err(err)?;
                    break;
                }
            }
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        // Every command is a short-lived process, the database's only connection most of the
        // time: closing it would checkpoint the WAL into the database and delete it (two
        // fsyncs), and the next command's open would make it anew (two more), ~2-4 ms per
        // command. The WAL stays instead, checkpointed by the commit that finds it 32 pages
        // long, and kept small so each open reads little of it (the first connection of a
        // process rebuilds the WAL index from the whole log). With synchronous=NORMAL a power
        // loss may lose the last transactions (never the database's consistency), as before.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(err)?;
        conn.pragma_update(None, "wal_autocheckpoint", 32)
            .map_err(err)?;
        conn.pragma_update(None, "journal_size_limit", 1 << 20)
            .map_err(err)?;
        let mut db = Db { conn, path };
        db.migrate()?;
        Ok(db)
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> StateError {
        StateError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StateError::TooNew {
                path: self.path.clone(),
                found: version,
                known,
            });
        }
        if version == known {
            return Ok(());
        }
        let path = self.path.clone();
        let err = |source| StateError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        // Another process may have migrated while we waited for the lock.
        let now: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(now.max(0) as usize) {
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// The schema version in use.
    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Adds a container; its name must be free.
    pub fn insert(&self, c: &ContainerRow) -> Result<()> {
        let r = self.conn.execute(
            &format!("INSERT INTO containers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
            params![
                c.id,
                c.name,
                c.image,
                c.image_id,
                c.created,
                c.config,
                c.status,
                c.exit_code,
                c.oom_killed as i64,
                c.started_at,
                c.finished_at,
                c.restart_count,
                c.record_seq
            ],
        );
        match r {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, Some(msg)))
                if e.code == rusqlite::ErrorCode::ConstraintViolation
                    && msg.contains("containers.name") =>
            {
                Err(StateError::NameInUse(c.name.clone()))
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// Records the state folded in from the monitor's records.
    pub fn update_state(&self, c: &ContainerRow) -> Result<()> {
        self.conn
            .execute(
                "UPDATE containers SET status = ?2, exit_code = ?3, oom_killed = ?4, \
                 started_at = ?5, finished_at = ?6, restart_count = ?7, record_seq = ?8 \
                 WHERE id = ?1",
                params![
                    c.id,
                    c.status,
                    c.exit_code,
                    c.oom_killed as i64,
                    c.started_at,
                    c.finished_at,
                    c.restart_count,
                    c.record_seq
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM containers WHERE id = ?1", params![id])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Every container, oldest first.
    pub fn all(&self) -> Result<Vec<ContainerRow>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM containers ORDER BY created, id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e));
        rows
    }

    /// A container by name, full ID, or unique ID prefix.
    pub fn resolve(&self, key: &str) -> Result<ContainerRow> {
        let key = key.trim_start_matches('/');
        let exact = self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM containers WHERE name = ?1 OR id = ?1"),
                params![key],
                row,
            )
            .optional()
            .map_err(|e| self.err(e))?;
        if let Some(c) = exact {
            return Ok(c);
        }
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StateError::NotFound(key.to_string()));
        }
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM containers WHERE substr(id, 1, ?2) = ?1"
            ))
            .map_err(|e| self.err(e))?;
        let mut found = stmt
            .query_map(params![key, key.len() as i64], row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        match found.len() {
            0 => Err(StateError::NotFound(key.to_string())),
            1 => Ok(found.remove(0)),
            _ => Err(StateError::Ambiguous {
                prefix: key.to_string(),
                matches: found.iter().map(|c| c.id[..12].to_string()).collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str, name: &str) -> ContainerRow {
        ContainerRow {
            id: id.into(),
            name: name.into(),
            image: "busybox".into(),
            image_id: "sha256:00".into(),
            created: "2026-11-22T00:00:00Z".into(),
            config: "{}".into(),
            status: "created".into(),
            exit_code: None,
            oom_killed: false,
            started_at: None,
            finished_at: None,
            restart_count: 0,
            record_seq: 0,
        }
    }

    #[test]
    fn names_ids_prefixes_and_migrations() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(tmp.path()).unwrap();
        assert_eq!(db.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let a = format!("abc1{}", "0".repeat(60));
        let b = format!("abc2{}", "0".repeat(60));
        db.insert(&sample(&a, "web")).unwrap();
        db.insert(&sample(&b, "db")).unwrap();
        assert!(matches!(
            db.insert(&sample(&"f".repeat(64), "web")),
            Err(StateError::NameInUse(n)) if n == "web"
        ));
        assert_eq!(db.resolve("web").unwrap().id, a);
        assert_eq!(db.resolve("/db").unwrap().id, b);
        assert_eq!(db.resolve("abc2").unwrap().id, b);
        assert!(matches!(
            db.resolve("abc"),
            Err(StateError::Ambiguous { .. })
        ));
        assert!(matches!(db.resolve("nope"), Err(StateError::NotFound(_))));
        let mut row = db.resolve("web").unwrap();
        row.status = "exited".into();
        row.exit_code = Some(3);
        db.update_state(&row).unwrap();
        assert_eq!(db.resolve("web").unwrap().exit_code, Some(3));
        db.remove(&a).unwrap();
        assert_eq!(db.all().unwrap().len(), 1);
        // Reopening does not migrate again; a newer schema is refused.
        drop(db);
        let db = Db::open(tmp.path()).unwrap();
        db.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(db);
        assert!(matches!(
            Db::open(tmp.path()),
            Err(StateError::TooNew { .. })
        ));
    }
}
