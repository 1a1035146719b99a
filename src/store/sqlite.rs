//! SQLite backend, the embedded default: one file in WAL mode. Writes go through a
//! one-connection pool, so they queue in the process instead of failing with "database is
//! locked"; reads use a separate pool and run alongside them.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, Transaction};

use super::{SqlBackend, StoreResult};
use crate::config::Storage;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing, with its folder) the file `settings.database_url` names.
    pub async fn connect(settings: &Storage) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(settings.database_url.expose())
            .with_context(|| format!("DATABASE_URL={} is not a valid SQLite URL", settings.database_url_redacted()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL keeps every commit across a crash of the app (not of the OS).
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let path = options.get_filename().to_path_buf();
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
        }
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        let read = SqlitePoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options.read_only(true))
            .await
            .with_context(|| format!("opening {} for reading", path.display()))?;
        Ok(Self { write, read })
    }
}

impl SqlBackend for SqliteStore {
    type Db = Sqlite;

    fn reader(&self) -> &SqlitePool {
        &self.read
    }

    fn writer(&self) -> &SqlitePool {
        &self.write
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }

    /// One process owns the file's writes; its single write connection already serialises
    /// seeding, and SQLite's lock covers a second process.
    // One connection writes: its transactions never interleave.
    const FOR_UPDATE: &'static str = "";
    const TRANSACTION_POOLED: bool = false;
    const FOR_NO_KEY_UPDATE: &'static str = "";

    const VOTER_CHOICES: &'static str = "select distinct option_id from votes where ballot_id in \
         (select id from ballots where poll_id = $1 and voter_key = $2) order by option_id";

    async fn lock_seeding(_tx: &mut Transaction<'_, Sqlite>) -> StoreResult<()> {
        Ok(())
    }
}

/// The shared SQL, compiled for this backend.
type SqlStore = SqliteStore;
#[allow(clippy::duplicate_mod)] // one source file, compiled once per backend on purpose
#[path = "sql.rs"]
mod sql;
