//! The production topology through the real `deploy/cluster.sh`: PostgreSQL, Redis, the
//! replicas (this build's binary) and nginx with `deploy/nginx.conf`, each cluster in a
//! folder and on ports of its own, stopped with `cluster.sh down` when dropped. The scaled
//! topology adds a streaming standby, PgBouncer and a Redis Cluster.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sqlx::Connection;

/// Database connections at one moment (see [`Cluster::connections`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct Connections {
    /// Client backends on the primary.
    pub primary: i64,
    /// The replicas' connections to PgBouncer (scaled).
    pub clients: usize,
    /// PgBouncer's connections to PostgreSQL, primary and standby (scaled).
    pub servers: usize,
}

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
    /// `single` or `scaled` (`CLUSTER_TOPOLOGY`).
    topology: &'static str,
}

/// The checkout: this crate is `tests/harness`.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A base port whose neighbours the cluster uses (+1, +2, +11…) are free now.
fn free_base(replicas: usize) -> u16 {
    for _ in 0..200 {
        // Below 55,000: a Redis Cluster node talks to the others on its port + 10,000.
        let base: u16 = 20_000 + rand::random::<u16>() % 35_000;
        // nginx, PostgreSQL, Redis; the scaled topology's standby, PgBouncer and six Redis
        // Cluster nodes (and their cluster bus ports); the replicas.
        let ports =
            (0..=10).chain(10_005..=10_010).chain((1..=replicas).map(|n| 10 + n)).map(|offset| base + offset as u16);
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

    /// As [`Cluster::start`], in the scaled topology (`CLUSTER_TOPOLOGY=scaled`).
    pub async fn start_scaled(binary: impl AsRef<Path>, replicas: usize, env: &[(&str, &str)]) -> Self {
        let dir = root().join("target").join("cluster-tests").join(format!("{:x}", rand::random::<u64>()));
        Self::start_topology_in(dir, true, "scaled", binary, replicas, env).await
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
        Self::start_topology_in(dir, remove_dir, "single", binary, replicas, env).await
    }

    /// As [`Cluster::start_in`], in `topology` (`single` or `scaled`).
    pub async fn start_topology_in(
        dir: PathBuf,
        remove_dir: bool,
        topology: &'static str,
        binary: impl AsRef<Path>,
        replicas: usize,
        env: &[(&str, &str)],
    ) -> Self {
        let scaled_tools: &[(&str, &str)] = if topology == "scaled" { &[("pgbouncer", "pgbouncer")] } else { &[] };
        for (tool, package) in
            [("nginx", "nginx"), ("redis-server", "redis-server"), ("curl", "curl")].iter().chain(scaled_tools)
        {
            if which(tool).is_none() {
                crate::missing_server(tool, &format!("apt-get install {package}"));
            }
        }
        let port = free_base(replicas);
        let _ = std::fs::remove_dir_all(&dir);
        let binary = binary.as_ref().to_owned();
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let cluster =
            Self { url: format!("http://127.0.0.1:{port}"), dir, port, replicas, binary, env, remove_dir, topology };
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
            .env("CLUSTER_TOPOLOGY", self.topology)
            .env("RATE_LIMIT", "off")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// `single` or `scaled`.
    pub fn topology(&self) -> &'static str {
        self.topology
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
            "standby" => self.dir.join("standby/postmaster.pid"),
            "pgbouncer" => self.dir.join("pgbouncer/pgbouncer.pid"),
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

    /// The scaled topology's standby, itself (after `fail-over`: the primary).
    pub fn standby_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/votestream", self.port + 3)
    }

    /// The scaled topology's PgBouncer port.
    pub fn bouncer_port(&self) -> u16 {
        self.port + 4
    }

    /// The scaled topology's Redis Cluster nodes' ports.
    pub fn redis_nodes(&self) -> Vec<u16> {
        (5..=10).map(|offset| self.port + offset).collect()
    }

    /// The port of the Redis Cluster master that owns `channel`'s slot now.
    pub async fn redis_master_of(&self, channel: &str) -> u16 {
        for port in self.redis_nodes() {
            let Ok(client) = ::redis::Client::open(format!("redis://127.0.0.1:{port}")) else { continue };
            let Ok(mut connection) = client.get_multiplexed_async_connection().await else { continue };
            let Ok(slot) =
                ::redis::cmd("CLUSTER").arg("KEYSLOT").arg(channel).query_async::<i64>(&mut connection).await
            else {
                continue;
            };
            // Each range: start, end, then the master as [ip, port, id, …], then its replicas.
            let Ok(ranges) =
                ::redis::cmd("CLUSTER").arg("SLOTS").query_async::<Vec<::redis::Value>>(&mut connection).await
            else {
                continue;
            };
            for range in ranges {
                let ::redis::Value::Array(parts) = range else { continue };
                let [::redis::Value::Int(start), ::redis::Value::Int(end), ::redis::Value::Array(master), ..] =
                    parts.as_slice()
                else {
                    continue;
                };
                if (*start..=*end).contains(&slot)
                    && let Some(::redis::Value::Int(master_port)) = master.get(1)
                {
                    return u16::try_from(*master_port).unwrap();
                }
            }
        }
        panic!("no Redis Cluster node says who owns {channel}");
    }

    /// How many clients of the Redis Cluster node on `port` subscribe to the sharded `channel`.
    pub async fn shard_subscribers(&self, port: u16, channel: &str) -> i64 {
        crate::redis::shard_subscribers(&format!("redis://127.0.0.1:{port}"), channel).await
    }

    /// How many clients of the Redis node on `port` subscribe to the ordinary `channel`.
    pub async fn subscribers(&self, port: u16, channel: &str) -> i64 {
        crate::redis::subscribers(&format!("redis://127.0.0.1:{port}"), channel).await
    }

    /// Waits until every replica's `/readyz` says `state` (`reading`, `lagging`, `down`) of
    /// its standby.
    pub async fn wait_standbys(&self, state: &str) {
        for n in 1..=self.replicas {
            let url = format!("{}/readyz", self.replica_url(n));
            crate::eventually(
                &format!("replica-{n} says its standby is {state}"),
                Duration::from_secs(30),
                async || {
                    let ready: serde_json::Value = match reqwest::get(&url).await {
                        Ok(response) => response.json().await.unwrap_or_default(),
                        Err(_) => serde_json::Value::Null,
                    };
                    if ready["standbys"][0]["state"] == state { Ok(()) } else { Err(ready) }
                },
            )
            .await;
        }
    }

    /// The database connections now: the primary's client backends, and (scaled) the
    /// replicas' connections to PgBouncer and PgBouncer's to PostgreSQL.
    pub async fn connections(&self) -> Connections {
        let primary = self
            .scalar("select count(*) from pg_stat_activity where datname = 'votestream' and backend_type = 'client backend'")
            .await;
        let (mut clients, mut servers) = (0, 0);
        if self.topology == "scaled" {
            let all = self.bouncer_show("clients").await;
            clients = all.iter().filter(|c| c["database"].starts_with("votestream")).count();
            servers = self.bouncer_show("servers").await.len();
        }
        Connections { primary, clients, servers }
    }

    /// A `SHOW …` of PgBouncer's admin console, as rows of name → value.
    pub async fn bouncer_show(&self, what: &str) -> Vec<std::collections::HashMap<String, String>> {
        use sqlx::{Column, Row};
        let url = format!("postgres://postgres@127.0.0.1:{}/pgbouncer", self.bouncer_port());
        let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
        // The admin console speaks the simple protocol only.
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("show {what}"))).fetch_all(&mut connection).await.unwrap();
        rows.iter()
            .map(|row| {
                row.columns()
                    .iter()
                    .map(|column| {
                        let value = row
                            .try_get::<Option<String>, _>(column.ordinal())
                            .ok()
                            .flatten()
                            .or_else(|| {
                                row.try_get::<Option<i64>, _>(column.ordinal()).ok().flatten().map(|n| n.to_string())
                            })
                            .or_else(|| {
                                row.try_get::<Option<i32>, _>(column.ordinal()).ok().flatten().map(|n| n.to_string())
                            })
                            .unwrap_or_default();
                        (column.name().to_owned(), value)
                    })
                    .collect()
            })
            .collect()
    }

    /// A poll for the test, created through nginx; its id and option ids.
    pub async fn new_poll(&self) -> (i64, Vec<i64>) {
        let body = serde_json::json!({
            "question": "Which replica answers?", "theme": "Sports",
            "options": [{ "text": "One" }, { "text": "Two" }, { "text": "Three" }],
        });
        let created = reqwest::Client::new().post(format!("{}/api/polls", self.url)).json(&body).send().await.unwrap();
        assert_eq!(created.status(), reqwest::StatusCode::CREATED);
        let json: serde_json::Value = created.json().await.unwrap();
        let options = json["options"].as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect();
        (json["id"].as_i64().unwrap(), options)
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
