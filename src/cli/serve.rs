//! `pdf-seal serve`: the HTTP service.

use std::io::{IsTerminal as _, Write as _};
use std::net::{SocketAddr, TcpListener};

use anyhow::Context as _;

use super::CliError;
use crate::api::AppState;
use crate::config::{Environment, HttpSettings, LogSettings, SignerArgs, SignerSettings};
use crate::{server, signing, telemetry};

/// The arguments of `pdf-seal serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Loopback address and port to listen on; port 0 picks a free one [default:
    /// 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT under Azure Functions, else 127.0.0.1:7071]
    #[arg(long, value_name = "ADDR:PORT")]
    pub bind: Option<String>,

    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Checks every setting, loads the signer, binds, announces the address on standard output
/// and serves until SIGINT or SIGTERM.
pub fn run(args: ServeArgs) -> Result<(), CliError> {
    let env = Environment::from_process();
    let http = HttpSettings::resolve(args.bind.as_deref(), &env)?;
    let log = LogSettings::resolve(&env, std::io::stderr().is_terminal())?;
    let signer_settings = SignerSettings::resolve(&args.signer, &env)?;

    telemetry::init(&log);
    telemetry::install_panic_hook();
    let loaded = signing::load(&signer_settings)?;
    if let Some(files) = &loaded.development {
        signing::warn_development(files);
    }

    let listener =
        TcpListener::bind(http.bind).with_context(|| format!("binding {}", http.bind))?;
    let address = listener.local_addr().context("reading the bound address")?;
    let state = AppState::new(loaded.signer, http.limits.clone());
    actix_web::rt::System::new().block_on(async move {
        let server = server::listen(listener, state).context("starting the HTTP server")?;
        announce(address)?;
        tracing::info!(
            http.address = %address,
            http.max_body_bytes = http.limits.max_body_bytes,
            http.body_idle_timeout_secs = http.limits.body_idle_timeout.as_secs(),
            http.body_timeout_secs = http.limits.body_timeout.as_secs(),
            http.max_concurrent_seals = http.limits.max_concurrent_seals,
            "listening"
        );
        server.await.context("serving HTTP")?;
        Ok(())
    })
}

/// Prints the one line that test harnesses and scripts wait for.
fn announce(address: SocketAddr) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "pdf-seal listening on http://{address}")
        .and_then(|()| stdout.flush())
        .context("writing to standard output")?;
    Ok(())
}
