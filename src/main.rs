//! `votestream [serve|migrate|seed]`: see the README.

use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: a page request makes a few hundred small
/// allocations across threads, where glibc spent about a tenth of a replica's time
/// (perf, `just bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    match votestream::cli::run(std::env::args().skip(1)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("votestream: {error:#}");
            ExitCode::FAILURE
        }
    }
}
