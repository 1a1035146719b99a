//! The deployment files, checked offline by the tools that read them: nginx on the
//! cluster's copy of `deploy/nginx.conf`, docker-compose on `docker-compose.yml`, and
//! kubernetes-validate on `deploy/k8s/`.

#![allow(clippy::unwrap_used)]

use votestream_harness as support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a checker; its output on failure.
fn check(mut command: Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{what} failed:\n{text}");
    text
}

fn tool(path: &str, install: &str) -> PathBuf {
    let found = [path.to_owned(), format!("/usr/sbin/{path}"), format!("/usr/bin/{path}")]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_absolute() && p.exists());
    found.unwrap_or_else(|| support::missing_server(path, install))
}

#[test]
fn nginx_accepts_the_config_the_cluster_runs_which_differs_only_in_ports_and_paths() {
    let nginx = tool("nginx", "apt-get install nginx");
    let dir = std::env::temp_dir().join(format!("votestream-nginx-check-{:x}", rand::random::<u32>()));
    let mut config = Command::new(root().join("deploy/cluster.sh"));
    config.arg("config").env("CLUSTER_DIR", &dir).env("CLUSTER_PORT", "18080");
    let path = check(config, "cluster.sh config");
    let path = path.trim();

    let mut test = Command::new(nginx);
    test.args(["-t", "-q", "-c", path, "-e"]).arg(dir.join("error.log"));
    check(test, "nginx -t");

    let original = std::fs::read_to_string(root().join("deploy/nginx.conf")).unwrap();
    let templated = std::fs::read_to_string(path).unwrap();
    let kept: Vec<&str> = original.lines().filter(|l| !l.contains("# cluster:")).collect();
    let mut rest = templated.lines();
    for line in &kept {
        assert!(rest.any(|t| t == *line), "the cluster's copy lost or changed {line:?}");
    }
    assert!(templated.contains("server 127.0.0.1:18091 max_fails=2 fail_timeout=1s;"), "{templated}");
    assert!(templated.contains("listen 127.0.0.1:18080 reuseport;"), "its workers share connections evenly");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_compose_file_is_valid_and_runs_the_production_topology() {
    let compose = tool("docker-compose", "apt-get install docker-compose");
    let mut validate = Command::new(&compose);
    validate.current_dir(root()).args(["-f", "docker-compose.yml", "config", "--quiet"]);
    check(validate, "docker-compose config");
    let mut services = Command::new(&compose);
    services.current_dir(root()).args(["-f", "docker-compose.yml", "config", "--services"]);
    let mut listed: Vec<String> =
        check(services, "docker-compose config --services").lines().map(str::to_owned).collect();
    listed.sort();
    assert_eq!(listed, ["app1", "app2", "app3", "db", "nginx", "redis"]);
}

#[test]
fn the_kubernetes_manifests_validate_against_the_api_schemas() {
    let venv = root().join("target/tools/venv/bin/kubernetes-validate");
    let validator = if venv.exists() {
        venv
    } else {
        tool("kubernetes-validate", "tests/run makes it: pip install kubernetes-validate")
    };
    let k8s = root().join("deploy/k8s");
    let kustomization = std::fs::read_to_string(k8s.join("kustomization.yaml")).unwrap();
    let resources: Vec<PathBuf> =
        kustomization.lines().filter_map(|l| l.trim().strip_prefix("- ")).map(|name| k8s.join(name)).collect();
    assert_eq!(resources.len(), 9, "{kustomization}");
    let mut files: Vec<String> = std::fs::read_dir(&k8s)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "kustomization.yaml")
        .collect();
    files.sort();
    let mut listed: Vec<String> =
        resources.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    listed.sort();
    assert_eq!(files, listed, "every manifest is in the kustomization");

    let mut validate = Command::new(validator);
    validate.args(["--kubernetes-version", "1.30.0", "--strict"]).args(resources.iter().map(|p| p.as_path()));
    let report = check(validate, "kubernetes-validate");
    // One line per object, and pgbouncer.yaml holds five (its ConfigMap, Secret, Deployment,
    // Service and PodDisruptionBudget): every top-level `kind:` passed.
    let objects: usize = resources
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap().lines().filter(|l| l.starts_with("kind:")).count())
        .sum();
    assert_eq!(objects, 13, "{kustomization}");
    assert_eq!(report.matches("passed").count(), objects, "{report}");
    assert!(Path::new(&k8s.join("deployment.yaml")).exists());
    // The scaled topology: the replicas go through PgBouncer in transaction pooling, say
    // so, and migrate elsewhere.
    let read = |name: &str| std::fs::read_to_string(k8s.join(name)).unwrap();
    assert!(read("pgbouncer.yaml").contains("pool_mode = transaction"));
    assert!(read("configmap.yaml").contains("DB_TRANSACTION_POOLING: \"true\""));
    assert!(read("secret.yaml").contains("DATABASE_READ_URL:") && read("secret.yaml").contains("redis+cluster://"));
    assert!(read("migrate-job.yaml").contains(r#"args: ["migrate"]"#), "the migrations run in a Job");
}

/// nginx must let an idle connection to a replica go before the replica closes it (after
/// `HEADER_READ_TIMEOUT_SECS` without a request): otherwise a vote sent down one as it
/// closes is answered 502 (seen at 50,000 viewers with one vote a second).
#[test]
fn nginx_lets_idle_replica_connections_go_before_the_replicas_close_them() {
    let config = std::fs::read_to_string(root().join("deploy/nginx.conf")).unwrap();
    let upstream = config.split("upstream votestream {").nth(1).unwrap().split('}').next().unwrap();
    let line =
        upstream.lines().map(str::trim).find(|l| l.starts_with("keepalive_timeout")).expect("a keepalive_timeout");
    let nginx: u64 = line
        .trim_start_matches("keepalive_timeout")
        .trim()
        .trim_end_matches(';')
        .trim_end_matches('s')
        .parse()
        .unwrap();
    let replica: u64 = votestream::config::vars::http::HEADER_READ_TIMEOUT_SECS.default.parse().unwrap();
    assert!(nginx < replica, "nginx keeps idle upstream connections {nginx} s, the replicas {replica} s");
}
