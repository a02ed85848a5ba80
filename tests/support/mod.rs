//! Helpers for the integration tests that drive the real `pdf-seal` binary from outside: commands
//! with deadlines, a development certificate, one server, and the validators; Azurite for the
//! tests of the Azure storage backend; certomancer (a test PKI, a TSA, a CSC v1 service) for the
//! signing backends; an OpenID provider and test-signed tokens for the tests of
//! Entra ID authentication; the function app of `functions/` and the connector's operations, for
//! the test that runs pdf-seal as the Azure Functions host does; the offline checks of the
//! connector's files and the Power Platform schemas they run against.

// Each test binary that declares `mod support` uses only part of it.
#![allow(dead_code)]

pub mod account_sas;
pub mod azurite;
pub mod certomancer;
pub mod connector_api;
pub mod connector_tools;
pub mod csc_v2;
pub mod egress;
pub mod fake_az;
pub mod fixture;
pub mod functions_app;
pub mod job_scenarios;
pub mod jobs;
pub mod jwt;
pub mod key_vault;
pub mod key_vault_fixture;
pub mod manifest;
pub mod oidc_provider;
pub mod outcome;
pub mod power_platform_schema;
pub mod process;
pub mod server;
pub mod trusted_signatures;
pub mod validators;
