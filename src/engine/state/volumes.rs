//! The `volumes` table: one row per volume (its data lives under `<root>/volumes/<name>`).

use rusqlite::{params, OptionalExtension};

use super::{Db, Result};

/// One volume as the database holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeRow {
    pub name: String,
    pub created: String,
    /// JSON object of labels.
    pub labels: String,
    /// JSON object of the local driver's options (`type`, `o`, `device`).
    pub options: String,
    /// Made for one container (an image VOLUME, `-v /path`): `rm -v` and `prune` take it.
    pub anonymous: bool,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VolumeRow> {
    Ok(VolumeRow {
        name: r.get(0)?,
        created: r.get(1)?,
        labels: r.get(2)?,
        options: r.get(3)?,
        anonymous: r.get::<_, i64>(4)? != 0,
    })
}

const COLUMNS: &str = "name, created, labels, options, anonymous";

impl Db {
    /// Adds a volume unless one of that name exists; `true` when this call added it.
    pub fn volume_insert(&self, v: &VolumeRow) -> Result<bool> {
        self.conn
            .execute(
                &format!("INSERT OR IGNORE INTO volumes ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
                params![v.name, v.created, v.labels, v.options, v.anonymous as i64],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err(e))
    }

    pub fn volume_get(&self, name: &str) -> Result<Option<VolumeRow>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM volumes WHERE name = ?1"),
                params![name],
                row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every volume, by name.
    pub fn volume_all(&self) -> Result<Vec<VolumeRow>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM volumes ORDER BY name"))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e));
        rows
    }

    pub fn volume_remove(&self, name: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM volumes WHERE name = ?1", params![name])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_are_added_once_listed_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(tmp.path()).unwrap();
        let v = VolumeRow {
            name: "data".into(),
            created: "2026-11-29T00:00:00Z".into(),
            labels: r#"{"a":"b"}"#.into(),
            options: "{}".into(),
            anonymous: false,
        };
        assert!(db.volume_insert(&v).unwrap());
        assert!(
            !db.volume_insert(&v).unwrap(),
            "a second insert keeps the first"
        );
        assert_eq!(db.volume_get("data").unwrap(), Some(v.clone()));
        assert_eq!(db.volume_all().unwrap(), vec![v]);
        db.volume_remove("data").unwrap();
        assert_eq!(db.volume_get("data").unwrap(), None);
    }
}
