//! Live tests: SSE streams on each storage backend, and replicas that share PostgreSQL and Redis.

#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod replicas;
mod streams;
