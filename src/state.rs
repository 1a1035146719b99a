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

/// The application state; handlers extract only the parts they use.
#[derive(Clone, FromRef)]
pub struct AppState {
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
