//! The production topology through the real `deploy/cluster.sh`: PostgreSQL, Redis, the
//! replicas (this build's binary) and nginx with `deploy/nginx.conf`, each cluster in a
//! folder and on ports of its own, stopped with `cluster.sh down` when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sqlx::Connection;

/// A running cluster.
pub struct Cluster {
    /// nginx's address.
    pub url: String,
    dir: PathBuf,
    port: u16,
    pub replicas: usize,
    /// The replicas' binary.
    binary: PathBuf,
    /// The replicas' settings, for every start (`up` and `start-replica`).
    env: Vec<(String, String)>,
    /// Whether `dir` goes when the cluster does (a test's), or only its data (the bench's
    /// logs stay to be read).
    remove_dir: bool,
}

/// The checkout: this crate is `tests/harness`.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A base port whose neighbours the cluster uses (+1, +2, +11…) are free now.
fn free_base(replicas: usize) -> u16 {
    for _ in 0..200 {
        let base: u16 = 20_000 + rand::random::<u16>() % 40_000;
        let ports = [0, 1, 2].into_iter().chain((1..=replicas).map(|n| 10 + n)).map(|offset| base + offset as u16);
        if ports.into_iter().all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return base;
        }
    }
    panic!("no free ports for a cluster");
}

impl Cluster {
    /// Starts `replicas` replicas of `binary` behind nginx, with `env` (and nothing of this
    /// process's environment) for the replicas, in
    /// a folder of its own under `target/cluster-tests`, and waits until nginx answers.
    pub async fn start(binary: impl AsRef<Path>, replicas: usize, env: &[(&str, &str)]) -> Self {
        let dir = root().join("target").join("cluster-tests").join(format!("{:x}", rand::random::<u64>()));
        Self::start_in(dir, true, binary, replicas, env).await
    }

    /// As [`Cluster::start`], in `dir` (emptied first); when dropped, the database's data
    /// goes and the logs stay unless `remove_dir`.
    pub async fn start_in(
        dir: PathBuf,
        remove_dir: bool,
        binary: impl AsRef<Path>,
        replicas: usize,
        env: &[(&str, &str)],
    ) -> Self {
        for (tool, package) in [("nginx", "nginx"), ("redis-server", "redis-server"), ("curl", "curl")] {
            if which(tool).is_none() {
                crate::missing_server(tool, &format!("apt-get install {package}"));
            }
        }
        let port = free_base(replicas);
        let _ = std::fs::remove_dir_all(&dir);
        let binary = binary.as_ref().to_owned();
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let cluster = Self { url: format!("http://127.0.0.1:{port}"), dir, port, replicas, binary, env, remove_dir };
        let mut command = cluster.script("up");
        command.env("CLUSTER_REPLICAS", replicas.to_string());
        let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
        assert!(
            output.status.success(),
            "cluster.sh up failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            cluster.logs()
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), cluster.url, "it prints its URL");
        cluster
    }

    /// `cluster.sh ACTION` with a clean environment: only what finds the tools passes
    /// (`PATH`, `PG_BIN`), so the replicas run on the settings given here
    /// and their defaults, never on the caller's.
    fn script(&self, action: &str) -> Command {
        let mut command = Command::new(root().join("deploy/cluster.sh"));
        command.env_clear();
        for name in ["PATH", "PG_BIN"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command
            .arg(action)
            .env("CLUSTER_DIR", &self.dir)
            .env("CLUSTER_PORT", self.port.to_string())
            .env("CLUSTER_BIN", &self.binary)
            .env("RATE_LIMIT", "off")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Sets (or with `None` removes) a setting for the replicas started from now on.
    pub fn set_env(&mut self, name: &str, value: Option<&str>) {
        self.env.retain(|(k, _)| k != name);
        if let Some(value) = value {
            self.env.push((name.to_owned(), value.to_owned()));
        }
    }

    /// Runs a `cluster.sh` action to the end.
    pub async fn run(&self, action: &str, arg: &str) {
        let mut command = self.script(action);
        command.arg(arg);
        let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
        assert!(output.status.success(), "cluster.sh {action} {arg}: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// Where the pid files and logs are.
    pub fn logs_dir(&self) -> PathBuf {
        self.dir.clone()
    }

    /// `cluster.sh up` on a running cluster: what it says.
    pub async fn up_again(&self) -> String {
        let mut command = self.script("up");
        let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
        assert!(output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// Replica `n`'s own address, bypassing nginx.
    pub fn replica_url(&self, n: usize) -> String {
        format!("http://127.0.0.1:{}", self.replica_port(n))
    }

    /// nginx's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Replica `n`'s own port (from 1).
    pub fn replica_port(&self, n: usize) -> u16 {
        self.port + 10 + n as u16
    }

    /// PostgreSQL's port.
    pub fn database_port(&self) -> u16 {
        self.port + 1
    }

    /// Replica `n`'s process id.
    pub fn replica_pid(&self, n: usize) -> u32 {
        self.pid(&format!("replica-{n}")).unwrap_or_else(|| panic!("replica-{n} has no pid file"))
    }

    /// The process id `cluster.sh` wrote for `name` (`replica-1`, `nginx`, `redis`,
    /// `postgres`), if it runs.
    pub fn pid(&self, name: &str) -> Option<u32> {
        let file = match name {
            "postgres" => self.dir.join("postgres/postmaster.pid"),
            _ => self.dir.join(format!("{name}.pid")),
        };
        std::fs::read_to_string(file).ok()?.lines().next()?.trim().parse().ok()
    }

    /// `kill -9` of replica `n`: no drain, no goodbye.
    pub fn kill_replica(&self, n: usize) {
        let status = Command::new("kill").arg("-KILL").arg(self.replica_pid(n).to_string()).status().unwrap();
        assert!(status.success());
        let _ = std::fs::remove_file(self.dir.join(format!("replica-{n}.pid")));
    }

    /// The cluster's database.
    pub fn database_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/votestream", self.database_port())
    }

    /// Runs a query returning one number.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let mut connection = sqlx::PgConnection::connect(&self.database_url()).await.unwrap();
        let (n,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&mut connection).await.unwrap();
        n
    }

    /// The last lines of every log, for a failure message.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let content = std::fs::read_to_string(&path).unwrap_or_default();
                let tail: Vec<&str> = content.lines().rev().take(15).collect();
                text += &format!("--- {}\n{}\n", path.display(), tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            }
        }
        text
    }

    /// Waits until every replica answers `/readyz` directly.
    pub async fn wait_all_ready(&self) {
        for n in 1..=self.replicas {
            let url = format!("{}/readyz", self.replica_url(n));
            crate::eventually(&format!("replica-{n} ready"), Duration::from_secs(30), async || {
                reqwest::get(&url).await.is_ok_and(|r| r.status().is_success())
            })
            .await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.script("down").output();
        if !self.remove_dir {
            // Gigabytes after the bench's large data: the logs stay, the data goes.
            let _ = std::fs::remove_dir_all(self.dir.join("postgres"));
        } else if !std::thread::panicking() {
            // A failed test's folder stays, to be read.
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|dir| PathBuf::from(dir).join(tool))
        .find(|path| path.exists())
}
