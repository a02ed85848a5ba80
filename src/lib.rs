//! pdf-seal: PAdES electronic seals for PDFs, as an HTTP service and on the command line.
//!
//! This crate is the shell around the sealing core ([`pdf_seal_core`]): the command line
//! ([`cli`]), the settings ([`config`]), the HTTP API ([`api`], served by [`server`]), the
//! loading of the signer ([`signing`]) and the logs ([`telemetry`]).

pub mod api;
pub mod auth;
pub mod azure;
pub mod cli;
pub mod config;
pub mod connector;
pub mod jobs;
pub mod secrets;
pub mod server;
pub mod signing;
pub mod storage;
pub mod telemetry;
