//! What handlers share.

use axum::extract::FromRef;

use crate::store::DynStore;

/// The application state; handlers extract only the parts they use.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Storage.
    pub store: DynStore,
}
