//! Live tests: SSE streams on each storage backend, and replicas that share PostgreSQL and Redis.

#![allow(clippy::unwrap_used)]

use votestream_harness as support;
use votestream_harness::on_each_backend;

mod replicas;
mod streams;
