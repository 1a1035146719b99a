//! `votestream [serve|migrate|seed]`: see the README.

use std::process::ExitCode;

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
