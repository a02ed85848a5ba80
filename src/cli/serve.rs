//! `pdf-seal serve`: the HTTP service.

use std::io::{IsTerminal as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use anyhow::Context as _;

use super::CliError;
use crate::api::AppState;
use crate::auth::Auth;
use crate::config::{
    AuthSettings, Environment, HttpSettings, JobSettings, LogSettings, SignerArgs, SignerSettings,
    StorageSettings,
};
use crate::jobs::{Jobs, worker};
use crate::secrets::Secrets;
use crate::{server, signing, storage, telemetry};

/// How long in-flight blob jobs may take to finish after a stop signal; a job still running
/// then is taken up again by the next instance, after its claim runs out.
const JOB_GRACE: Duration = Duration::from_secs(20);

/// The arguments of `pdf-seal serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on; port 0 picks a free one. An address beyond loopback
    /// needs PDF_SEAL_AUTH [default: 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT under Azure
    /// Functions, else 127.0.0.1:7071]
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
    let auth_settings = AuthSettings::resolve(&env, http.bind)?;
    let log = LogSettings::resolve(&env, std::io::stderr().is_terminal())?;
    let signer_settings = SignerSettings::resolve(&args.signer, &env)?;
    let storage_settings = StorageSettings::resolve(&env)?;
    let secrets = Secrets::from_settings(&env)?;

    telemetry::init(&log);
    telemetry::install_panic_hook();
    // Blob mode's storage requests and workers run on a runtime of their own, apart from the
    // HTTP workers' single-threaded ones; the signer's clients are made on it too, so that
    // their connection pools live as long as the process.
    let jobs_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("pdf-seal-jobs")
        .enable_all()
        .build()
        .context("starting the jobs runtime")?;
    let loaded = jobs_runtime.block_on(signing::load(&signer_settings, &secrets))?;
    secrets.spawn_refresher(jobs_runtime.handle());
    if let Some(files) = &loaded.development {
        signing::warn_development(files);
    }

    let listener =
        TcpListener::bind(http.bind).with_context(|| format!("binding {} (--bind)", http.bind))?;
    let address = listener.local_addr().context("reading the bound address")?;
    let job_settings = JobSettings::resolve(&env, address)?;
    if job_settings.base_url_guessed {
        tracing::warn!(
            jobs.public_base_url = %job_settings.public_base_url,
            "listening on every address, but job Location headers name loopback; set \
             PDF_SEAL_PUBLIC_BASE_URL to the address callers use"
        );
    }

    let storage = jobs_runtime
        .block_on(storage::open(&storage_settings))
        .context("opening blob storage")?;
    let jobs = Jobs::new(
        storage,
        loaded.signer.clone(),
        job_settings.clone(),
        jobs_runtime.handle().clone(),
    )
    .with_reserved_container(storage_settings.jobs_container());
    let (stop_workers, stopping) = tokio::sync::watch::channel(false);
    let mut workers = worker::spawn_workers(&jobs, stopping.clone());
    workers.extend(worker::spawn_sweeper(&jobs, stopping));
    let auth = Auth::new(&auth_settings);
    if let Some(entra) = auth.entra() {
        jobs_runtime.block_on(entra.warm_up());
    }
    if auth.policy().is_none() && env.is_set(crate::config::http::FUNCTIONS_PORT_VARIABLE) {
        tracing::warn!(
            "PDF_SEAL_AUTH is none: pdf-seal relies on the Functions host's key check alone \
             (authLevel function); with authLevel anonymous anyone could seal"
        );
    }
    let state = AppState::new(loaded.signer, http.limits.clone())
        .with_jobs(jobs)
        .with_auth(auth.clone())
        .with_secrets(secrets);

    let served = actix_web::rt::System::new().block_on(async move {
        let server = server::listen(listener, state).context("starting the HTTP server")?;
        announce(address)?;
        tracing::info!(
            http.address = %address,
            http.max_body_bytes = http.limits.max_body_bytes,
            http.body_idle_timeout_secs = http.limits.body_idle_timeout.as_secs(),
            http.body_timeout_secs = http.limits.body_timeout.as_secs(),
            http.max_concurrent_seals = http.limits.max_concurrent_seals,
            auth.policy = auth.policy().describe(),
            auth.ip_allow_list = auth_settings.network.allow.is_some(),
            jobs.storage = storage_settings.describe(),
            jobs.public_base_url = %job_settings.public_base_url,
            jobs.workers = job_settings.workers,
            "listening"
        );
        server.await.context("serving HTTP")
    });

    // The HTTP server stopped (a signal, or a failure): let the jobs in flight finish briefly.
    let _ = stop_workers.send(true);
    let finished = jobs_runtime.block_on(async {
        tokio::time::timeout(JOB_GRACE, futures_util::future::join_all(workers)).await
    });
    if finished.is_err() {
        tracing::warn!(
            grace_secs = JOB_GRACE.as_secs(),
            "blob jobs still running at exit; another instance takes them up when their claim runs out"
        );
    }
    jobs_runtime.shutdown_timeout(Duration::from_secs(1));
    served?;
    Ok(())
}

/// Prints the one line that test harnesses and scripts wait for.
fn announce(address: SocketAddr) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "pdf-seal listening on http://{address}")
        .and_then(|()| stdout.flush())
        .context("writing to standard output")?;
    Ok(())
}
