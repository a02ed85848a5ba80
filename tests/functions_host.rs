//! pdf-seal as an Azure Functions custom handler. The Functions host cannot run here (DESIGN.md
//! section 8), so the tests do what it does: read `functions/host.json` and the catch-all
//! function, start the real binary from a copy of the app laid out as the deployed package with
//! the arguments of host.json and `FUNCTIONS_CUSTOMHANDLER_PORT`, wait for its first HTTP answer
//! as the host does, and forward the connector's operations (from
//! `connector/apiDefinition.swagger.json`) to it unchanged, as the host's HTTP proxying does.
//! The app settings are those of a deployment: Entra ID tokens checked by pdf-seal itself
//! (against the OpenID provider of `tools/oidc-provider` on loopback), blob mode on the local
//! default under `$HOME/data`, and the platform's `WEBSITE_HOSTNAME` as the public host.

mod support;

#[path = "functions_host/app_files.rs"]
mod app_files;
#[path = "functions_host/operations.rs"]
mod operations;
#[path = "functions_host/start_up.rs"]
mod start_up;

use std::ffi::OsString;
use std::path::PathBuf;

use reqwest::Method;
use serde_json::json;

use support::fixture::Fixture;
use support::functions_app::{AppFiles, Started, handler_command, start_handler};
use support::oidc_provider::OidcProvider;
use support::server::{Reply, Server};

/// The Entra ID tenant of the deployment.
const TENANT: &str = "11111111-2222-3333-4444-555555555555";
/// The API's app registration (client id); its application id URI is `api://` it.
const API: &str = "99999999-8888-7777-6666-555555555555";
/// The connector's app registration, the one client allowed.
const CONNECTOR: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
/// The user whose connection a flow uses.
const USER: &str = "0a0a0a0a-1111-2222-3333-444444444444";

/// The Entra ID settings a deployment gives, with `metadata_url` standing in for
/// login.microsoftonline.com.
fn entra_settings(metadata_url: &str) -> Vec<(&'static str, OsString)> {
    vec![
        ("PDF_SEAL_AUTH", "entra-id".into()),
        ("PDF_SEAL_ENTRA_TENANT_ID", TENANT.into()),
        ("PDF_SEAL_ENTRA_AUDIENCE", format!("api://{API}").into()),
        ("PDF_SEAL_ENTRA_ALLOWED_CLIENTS", CONNECTOR.into()),
        ("PDF_SEAL_ENTRA_METADATA_URL", metadata_url.into()),
    ]
}

/// A deployed function app: the package laid out in a scratch directory, its `HOME`, and the
/// handler started in it by the host.
struct Deployment {
    /// First, so that the handler stops before its provider and scratch directory go.
    started: Started,
    provider: OidcProvider,
    fixture: Fixture,
    /// `$HOME`; blob mode keeps its data in `$HOME/data/pdf-seal-data`.
    home: PathBuf,
}

impl Deployment {
    /// Lays the app out and starts it with the settings of a deployment.
    fn start() -> Deployment {
        let provider = OidcProvider::start(TENANT);
        let fixture = Fixture::new();
        let app = AppFiles::read();
        let root = fixture.subdir("wwwroot");
        let home = fixture.subdir("home");
        app.lay_out_package(&root);

        let mut settings = entra_settings(&provider.metadata_url());
        for (name, path) in fixture.signer_settings() {
            settings.push((name, path.into()));
        }
        let (command, port) = handler_command(&app, &root, &home, &settings);
        let started = start_handler(command, port, &fixture.path().join("handler.log"));
        Deployment {
            started,
            provider,
            fixture,
            home,
        }
    }

    fn server(&self) -> &Server {
        &self.started.server
    }

    /// `Authorization: Bearer` with a token the connector would hold for a user's connection:
    /// a v2 token for the API, issued to the connector, with the delegated scope.
    fn bearer(&self) -> String {
        let token = self.provider.token(json!({
            "tid": TENANT, "aud": API, "azp": CONNECTOR, "oid": USER,
            "scp": "user_impersonation", "ver": "2.0",
        }));
        format!("Bearer {token}")
    }

    /// A blob of the local default store: container `container`, name `blob`.
    fn blob_path(&self, container: &str, blob: &str) -> PathBuf {
        self.home
            .join("data/pdf-seal-data/blobs")
            .join(container)
            .join(blob)
    }

    /// Sends `method target` as the host forwards it: same path, query, headers and body.
    fn forward(
        &self,
        method: Method,
        target: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        self.server()
            .send(method.clone(), target, headers, body)
            .unwrap_or_else(|error| {
                panic!(
                    "{method} {target}: {error}; the handler's log:\n{}",
                    self.server().log_tail()
                )
            })
    }
}
