//! Building and running the server.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::state::AppState;
use crate::store::DynStore;
use crate::{routes, seed, store};

/// A bound, ready server.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    store: DynStore,
}

impl Application {
    /// Connects storage, migrates, seeds (if `SEED_DEMO`), then binds `BIND_ADDR`.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = store::connect(&settings).await?;
        store.migrate().await.context("applying migrations")?;
        if settings.seed_demo {
            let report = seed::load_demo(store.as_ref()).await?;
            tracing::info!(themes = report.themes_added, polls = report.polls_added, "demo content checked");
        }
        let listener =
            TcpListener::bind(settings.bind_addr).await.with_context(|| format!("binding {}", settings.bind_addr))?;
        let router = routes::router(AppState { store: store.clone() }, &settings);
        tracing::info!(
            database = %settings.database_url_redacted(),
            address = %listener.local_addr()?,
            "VoteStream ready"
        );
        Ok(Self { listener, router, store })
    }

    /// The address actually bound (port 0 becomes a real port).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The store, for tests and tools that start the server in-process.
    pub fn store(&self) -> DynStore {
        self.store.clone()
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service).with_graceful_shutdown(shutdown).await
    }
}
