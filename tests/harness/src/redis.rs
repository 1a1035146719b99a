//! A throwaway Redis server for one test binary, on a free loopback port.
//!
//! Like the PostgreSQL harness, a shell holds a pipe from this process and stops the
//! server when the pipe closes, so nothing outlives the tests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running server.
pub struct RedisServer {
    pub port: u16,
    _watchdog: Child,
}

static SERVER: OnceLock<RedisServer> = OnceLock::new();

/// The server of this test process, started on first use.
pub fn server() -> &'static RedisServer {
    SERVER.get_or_init(start)
}

fn binary() -> String {
    let path = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "/usr/bin/redis-server".into());
    if !std::path::Path::new(&path).exists() {
        crate::missing_server(
            &format!("a Redis server binary ({path}, or set REDIS_SERVER)"),
            "apt-get install redis-server",
        );
    }
    path
}

fn start() -> RedisServer {
    let binary = binary();
    let port = crate::free_port();
    let script = format!(
        "'{binary}' --port {port} --bind 127.0.0.1 --save '' --appendonly no --daemonize no --loglevel warning >/dev/null 2>&1 & \
         server=$!; cat >/dev/null; kill $server"
    );
    let watchdog = Command::new("/bin/sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server");
    let server = RedisServer { port, _watchdog: watchdog };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.answers_ping() {
        assert!(Instant::now() < deadline, "redis-server did not answer on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

/// How many clients of the Redis at `url` subscribe to `channel` (0 if it is unreachable).
pub async fn subscribers(url: &str, channel: &str) -> i64 {
    count_subscribers(url, "NUMSUB", channel).await
}

/// How many clients of the Redis Cluster node at `url` subscribe to the sharded `channel`.
pub async fn shard_subscribers(url: &str, channel: &str) -> i64 {
    count_subscribers(url, "SHARDNUMSUB", channel).await
}

/// `PUBSUB {count} channel`'s count (0 if Redis is unreachable).
async fn count_subscribers(url: &str, count: &str, channel: &str) -> i64 {
    let Ok(client) = ::redis::Client::open(url) else { return 0 };
    let Ok(mut connection) = client.get_multiplexed_async_connection().await else { return 0 };
    let counts: Vec<(String, i64)> =
        ::redis::cmd("PUBSUB").arg(count).arg(channel).query_async(&mut connection).await.unwrap_or_default();
    counts.first().map_or(0, |(_, n)| *n)
}

impl RedisServer {
    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
    }
}

/// A redis-server of one test's own, which it can stop and start again on the same port.
pub struct OwnRedis {
    pub port: u16,
    child: Option<tokio::process::Child>,
}

impl OwnRedis {
    pub async fn start(port: u16) -> Self {
        let child = tokio::process::Command::new(binary())
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server");
        crate::eventually("redis-server accepting connections", Duration::from_secs(20), async || {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map(drop)
        })
        .await;
        Self { port, child: Some(child) }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
            child.wait().await.unwrap();
        }
    }

    pub async fn subscribers(&self, channel: &str) -> i64 {
        subscribers(&self.url(), channel).await
    }
}
