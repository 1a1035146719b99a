//! Live tests: SSE streams on replicas that share PostgreSQL and Redis.

#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod replicas;
mod streams;
