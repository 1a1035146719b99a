//! A throwaway PostgreSQL server for one test binary, from the system's binaries.
//!
//! Started once per test process on a free loopback port, with its data in a fresh
//! temporary folder. A watchdog process holds a pipe from this process: when the tests
//! exit, however they exit, the pipe closes and the watchdog stops the server and
//! removes its folder.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// A running server.
pub struct PgServer {
    pub port: u16,
    /// Kept only so its stdin stays open while the tests run.
    _watchdog: Child,
}

static SERVER: OnceLock<PgServer> = OnceLock::new();

/// The server of this test process, started on first use.
pub fn server() -> &'static PgServer {
    SERVER.get_or_init(start)
}

fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BIN") {
        let dir = PathBuf::from(dir);
        if !dir.join("postgres").exists() {
            crate::missing_server(
                &format!("PostgreSQL's server binaries in PG_BIN={}", dir.display()),
                "apt-get install postgresql",
            );
        }
        return dir;
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("postgres").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
    });
    found.pop().unwrap_or_else(|| {
        crate::missing_server(
            "a PostgreSQL server binary (none under /usr/lib/postgresql, PG_BIN unset)",
            "apt-get install postgresql",
        )
    })
}

/// Runs server commands as the `postgres` user when we are root (PostgreSQL refuses root).
fn as_server_user(program: &Path) -> Command {
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if is_root {
        let mut command = Command::new("setpriv");
        command.args(["--reuid=postgres", "--regid=postgres", "--clear-groups", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn start() -> PgServer {
    launch().0
}

/// A new server on a free port: the running server, and what it takes to stop and start it.
fn launch() -> (PgServer, Control) {
    let bin = bin_dir();
    let dir = std::env::temp_dir().join(format!("votestream-pg-{}-{:x}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir).expect("create the data folder");
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if is_root {
        let mut chown = Command::new("chown");
        chown.arg("postgres:postgres").arg(&dir);
        run(chown, "chown data folder");
    }
    let data = dir.join("data");
    let mut initdb = as_server_user(&bin.join("initdb"));
    initdb.args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "-D"]).arg(&data);
    run(initdb, "initdb");

    let port = crate::free_port();
    let control = Control { bin: bin.clone(), dir: dir.clone(), port };
    control.start();

    let stop = format!(
        "cat >/dev/null; '{}' -D '{}' stop -m immediate >/dev/null 2>&1; rm -rf '{}'",
        bin.join("pg_ctl").display(),
        data.display(),
        dir.display()
    );
    let mut watchdog = as_server_user(Path::new("/bin/sh"));
    watchdog.args(["-c", &stop]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
    let watchdog = watchdog.spawn().expect("start the PostgreSQL watchdog");
    (PgServer { port, _watchdog: watchdog }, control)
}

/// Stops and starts one server, on the same port and data.
struct Control {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Control {
    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300",
            self.port,
            self.dir.display()
        );
        let mut pg_ctl = as_server_user(&self.bin.join("pg_ctl"));
        pg_ctl
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-o", &options, "-l"])
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "60", "start"]);
        run(pg_ctl, "pg_ctl start");
    }

    fn stop(&self) {
        let mut pg_ctl = as_server_user(&self.bin.join("pg_ctl"));
        pg_ctl.arg("-D").arg(self.dir.join("data")).args(["-w", "-t", "60", "-m", "fast", "stop"]);
        run(pg_ctl, "pg_ctl stop");
    }
}

/// A server of one test's own, which it may stop and start again (fault tests). Stopped
/// and removed when the test process exits, like the shared one.
pub struct OwnPg {
    server: PgServer,
    control: Control,
}

impl OwnPg {
    /// Starts a new server on a free port.
    pub fn start() -> Self {
        let (server, control) = launch();
        Self { server, control }
    }

    /// The server, for its URLs and databases.
    pub fn server(&self) -> &PgServer {
        &self.server
    }

    /// Stops it (fast shutdown: connections are closed).
    pub fn stop(&self) {
        self.control.stop();
    }

    /// Starts it again on the same port and data.
    pub fn restart(&self) {
        self.control.start();
    }
}

impl PgServer {
    /// The admin URL.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A new empty database, and its URL.
    pub async fn fresh_database(&self) -> String {
        use sqlx::Connection;
        let name = format!("test_{:x}", rand::random::<u64>());
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres")).await.expect("connect to the test server");
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
            .execute(&mut admin)
            .await
            .expect("create a test database");
        self.url(&name)
    }
}
