//! What handlers share.

use std::sync::Arc;

use axum::extract::FromRef;
use tokio_util::sync::CancellationToken;

use crate::cache::DynCache;
use crate::guard::breaker::Breakers;
use crate::guard::limits::Limits;
use crate::live::Live;
use crate::live::stream::StreamConfig;
use crate::metrics::SharedMetrics;
use crate::routes::share::PublicUrl;
use crate::store::DynStore;
use crate::writer::VoteWriter;

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

impl FromRef<AppState> for DynStore {
    fn from_ref(state: &AppState) -> Self {
        state.store.clone()
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

/// What the state holds.
pub struct Shared {
    /// Storage.
    pub store: DynStore,
    /// Cache-aside for reads.
    pub cache: DynCache,
    /// Live updates.
    pub live: Arc<Live>,
    /// SSE timing.
    pub streams: StreamConfig,
    /// Cancelled on shutdown: live streams end so the server can drain.
    pub shutdown: CancellationToken,
    /// Rate limits and stream caps.
    pub limits: Limits,
    /// The dependencies' circuit breakers.
    pub breakers: Breakers,
    /// What never changes about each poll, for checking ballots without the database.
    pub shapes: crate::service::Shapes,
    /// Where ballots go: the replica's vote writer.
    pub votes: VoteWriter,
    /// What `/metrics` shows.
    pub metrics: SharedMetrics,
    /// `PUBLIC_URL`, for absolute links.
    pub public_url: PublicUrl,
}
