//! Faults under load: PostgreSQL and Redis really stopped and started while two replicas
//! take votes, and a replica stopped with SIGTERM in the middle of a vote burst.
//! Each test owns the servers it stops, so nothing else in the run is disturbed.

#![allow(clippy::unwrap_used)]

use votestream_harness as support;

mod outages;
mod shutdown;
