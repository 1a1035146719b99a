//! The command line: `serve` (default), `migrate`, `seed`, `settings`.

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::startup::Application;
use crate::{seed, store, telemetry};

const USAGE: &str = "usage: votestream [serve|migrate|seed|settings]";

/// Runs the command named by `args` (without the program name).
pub async fn run(mut args: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let command = args.next().unwrap_or_else(|| "serve".to_owned());
    if let Some(extra) = args.next() {
        bail!("unexpected argument {extra:?}\n{USAGE}");
    }
    if matches!(command.as_str(), "-h" | "--help" | "help") {
        println!("{USAGE}\nConfiguration comes from the environment and .env: `votestream settings` lists it.");
        return Ok(());
    }
    if command == "settings" {
        // Every variable with its default and meaning, as the README's tables.
        print!("{}", crate::config::vars::markdown());
        return Ok(());
    }
    // The working directory's .env only (not a parent's: a cluster's replicas run inside the
    // checkout and must not pick up its .env). A missing one is normal; a malformed one is
    // worth stopping for.
    match dotenvy::from_path(".env") {
        Ok(_) => {}
        Err(error) if error.not_found() => {}
        Err(error) => return Err(error).context("reading .env"),
    }
    let settings = Settings::from_env()?;
    telemetry::init(&settings.logs.format);
    match command.as_str() {
        "serve" => serve(settings).await,
        "migrate" => {
            if settings.storage.transaction_pooling {
                bail!(
                    "migrations take a session lock a transaction pooler cannot keep: run `votestream migrate` \
                     with DATABASE_URL naming PostgreSQL itself and DB_TRANSACTION_POOLING unset"
                );
            }
            let store = store::connect(&settings.storage).await?;
            store.migrate().await.context("applying migrations")?;
            tracing::info!("migrations applied");
            Ok(())
        }
        "seed" => {
            let store = store::connect(&settings.storage).await?;
            store.migrate().await.context("applying migrations")?;
            let report = seed::load_demo(store.as_ref()).await?;
            tracing::info!(themes = report.themes_added, polls = report.polls_added, "demo content loaded");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n{USAGE}"),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    let token = CancellationToken::new();
    let on_signal = token.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        on_signal.cancel();
    });
    app.run_until(token.cancelled_owned()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
