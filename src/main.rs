//! `votestream [serve|migrate|seed]`: see the README.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

/// mimalloc rather than glibc's malloc: a page request makes a few hundred small
/// allocations across threads, where glibc spent about a tenth of a replica's time
/// (perf, `just bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc reads its options from the environment as the process starts. This one commits
/// memory as it is used rather than a whole arena ahead: an idle live viewer holds 11 KiB of
/// a replica instead of 17 (glibc: 14), measured with 5,000 streams.
const LAZY_COMMIT: (&str, &str) = ("MIMALLOC_ARENA_EAGER_COMMIT", "0");

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::var_os(LAZY_COMMIT.0).is_none()
        && let Ok(exe) = std::env::current_exe()
    {
        // The same program, arguments and pid, with the option set (exec replaces the whole
        // process, runtime threads and all); returns only if it could not, and then the
        // server runs as it is.
        let error = Command::new(exe).args(std::env::args_os().skip(1)).env(LAZY_COMMIT.0, LAZY_COMMIT.1).exec();
        eprintln!("votestream: starting with {}={} failed ({error}); going on without", LAZY_COMMIT.0, LAZY_COMMIT.1);
    }
    match votestream::cli::run(std::env::args().skip(1)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("votestream: {error:#}");
            ExitCode::FAILURE
        }
    }
}
