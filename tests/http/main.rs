//! HTTP tests: the real server on each storage backend (PostgreSQL and SQLite), driven like a browser or a script.

#![allow(clippy::unwrap_used)]

use votestream_harness as support;
use votestream_harness::on_each_backend;

mod api;
mod batching;
mod create;
mod embedded;
mod embedding;
mod export;
mod hostile;
mod limits;
mod metrics;
mod openapi;
mod owners;
mod pages;
mod paging;
mod refusals;
mod router;
mod security;
mod sharing;
mod stage;
mod voting;
