//! VoteStream: themed polls, votes and result bars, server-rendered with maud and htmx.

pub mod announce;
pub mod app;
mod architecture;
pub mod breaker;
pub mod cache;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod guard;
pub mod live;
pub mod metrics;
pub mod present;
pub mod routes;
pub mod seed;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod writer;
