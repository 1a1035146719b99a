//! What handlers share.

use std::sync::Arc;

use axum::extract::FromRef;
use tokio_util::sync::CancellationToken;

use crate::app::Polls;
use crate::breaker::Breakers;
use crate::config::StreamConfig;
use crate::domain::JoinCodes;
use crate::guard::limits::Limits;
use crate::metrics::SharedMetrics;
use crate::store::DynStore;
use crate::web::PublicUrl;

/// The application state; handlers extract only the parts they use. One `Arc`, so the
/// clone axum makes for every request and layer is one atomic increment (cloning the
/// fields one by one took a lock for the cancellation token and cost 5 % of a replica's
/// CPU under a vote load).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state over `shared`.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for Polls {
    fn from_ref(state: &AppState) -> Self {
        state.polls.clone()
    }
}

impl FromRef<AppState> for DynStore {
    fn from_ref(state: &AppState) -> Self {
        state.polls.store().clone()
    }
}

impl FromRef<AppState> for Breakers {
    fn from_ref(state: &AppState) -> Self {
        state.breakers.clone()
    }
}

impl FromRef<AppState> for PublicUrl {
    fn from_ref(state: &AppState) -> Self {
        state.public_url.clone()
    }
}

impl FromRef<AppState> for SharedMetrics {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

/// What the state holds: the core, and what the HTTP layers need around it.
pub struct Shared {
    /// Every poll operation.
    pub polls: Polls,
    /// SSE timing.
    pub streams: StreamConfig,
    /// Cancelled on shutdown: live streams end so the server can drain.
    pub shutdown: CancellationToken,
    /// Rate limits and stream caps.
    pub limits: Limits,
    /// The dependencies' circuit breakers.
    pub breakers: Breakers,
    /// What `/metrics` shows.
    pub metrics: SharedMetrics,
    /// `PUBLIC_URL`, for absolute links.
    pub public_url: PublicUrl,
    /// Join codes, with this database's key.
    pub codes: JoinCodes,
}
