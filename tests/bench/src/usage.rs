//! CPU time by process, from `/proc/<pid>/stat`: what one request costs each part of the
//! machine (nginx, the replicas, PostgreSQL, Redis, the generator).

use std::collections::HashMap;

/// Clock ticks per second of `/proc/<pid>/stat` (Linux's `USER_HZ`).
const TICKS_PER_SECOND: f64 = 100.0;

/// The processes to watch, by part: each part is the process trees under its root pids.
pub struct Processes {
    parts: Vec<(String, Vec<u32>)>,
    /// Processes of the generator's besides this one (viewer groups).
    helpers: Vec<u32>,
}

/// CPU ticks per part (the generator last), at one moment or over a run.
#[derive(Debug, Clone, Default)]
pub struct Usage(pub Vec<(String, u64)>);

impl Processes {
    pub fn new(parts: Vec<(String, Vec<u32>)>) -> Self {
        Self { parts, helpers: Vec::new() }
    }

    /// The same parts, with `helpers` counted as the generator's too.
    pub fn with_helpers(&self, helpers: Vec<u32>) -> Self {
        Self { parts: self.parts.clone(), helpers }
    }

    /// Ticks used so far by each part's processes and their descendants (with the
    /// children they have already reaped), and by this process.
    pub fn sample(&self) -> Usage {
        let table = process_table();
        let mut usage: Vec<(String, u64)> = self
            .parts
            .iter()
            .map(|(name, roots)| {
                let total = trees(&table, roots).iter().filter_map(|pid| table.get(pid)).map(|e| e.ticks).sum();
                (name.clone(), total)
            })
            .collect();
        let helpers: u64 = self.helpers.iter().filter_map(|pid| table.get(pid)).map(|e| e.ticks).sum();
        usage.push(("generator".into(), ticks_of("self").map_or(0, |e| e.ticks) + helpers));
        Usage(usage)
    }
}

impl Usage {
    /// The ticks used since `before`.
    pub fn since(&self, before: &Usage) -> Usage {
        Usage(
            self.0
                .iter()
                .map(|(name, ticks)| {
                    let earlier = before.0.iter().find(|(n, _)| n == name).map_or(0, |(_, t)| *t);
                    (name.clone(), ticks.saturating_sub(earlier))
                })
                .collect(),
        )
    }

    /// Microseconds of CPU per request, by part, and their sum.
    pub fn per_request(&self, requests: u64) -> (Vec<(String, f64)>, f64) {
        let each: Vec<(String, f64)> = self
            .0
            .iter()
            .map(|(name, ticks)| (name.clone(), *ticks as f64 / TICKS_PER_SECOND * 1e6 / requests.max(1) as f64))
            .collect();
        let sum = each.iter().map(|(_, us)| us).sum();
        (each, sum)
    }

    /// "nginx 12, replicas 80, … = 150 µs/request; 2 cores: 13,300/s at most".
    pub fn cell(&self, requests: u64, cores: f64) -> String {
        let (each, sum) = self.per_request(requests);
        let parts: Vec<String> = each.iter().map(|(name, us)| format!("{name} {us:.0}")).collect();
        format!("{} = {sum:.0} µs; {cores:.0} cores: {:.0}/s at most", parts.join(", "), cores * 1e6 / sum.max(1.0))
    }
}

struct Entry {
    pid: u32,
    parent: u32,
    /// utime + stime + cutime + cstime.
    ticks: u64,
}

fn ticks_of(pid: &str) -> Option<Entry> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let own: u32 = head.split_whitespace().next()?.parse().ok()?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    Some(Entry {
        pid: own,
        parent: fields.get(1)?.parse().ok()?,
        ticks: number(11) + number(12) + number(13) + number(14),
    })
}

/// `roots` and every process below them.
fn trees(table: &HashMap<u32, Entry>, roots: &[u32]) -> Vec<u32> {
    let mut found = Vec::new();
    let mut stack = roots.to_vec();
    while let Some(pid) = stack.pop() {
        found.push(pid);
        stack.extend(table.values().filter(|e| e.parent == pid).map(|e| e.pid));
    }
    found
}

/// `root` and every process below it, as they are now.
pub fn tree(root: u32) -> Vec<u32> {
    trees(&process_table(), &[root])
}

fn process_table() -> HashMap<u32, Entry> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())).and_then(ticks_of))
        .map(|e| (e.pid, e))
        .collect()
}
