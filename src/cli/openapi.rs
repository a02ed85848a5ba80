//! `pdf-seal openapi [--out FILE]`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::CliError;
use crate::api::openapi::document_json;

/// The arguments of `pdf-seal openapi`.
#[derive(Debug, clap::Args)]
pub struct OpenApiArgs {
    /// File to write the document to, replacing it [default: standard output]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Writes the OpenAPI 3.1 document that `serve` answers at `/api/openapi.json`.
pub fn run(args: OpenApiArgs) -> Result<(), CliError> {
    let json = document_json();
    match args.out {
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(json.as_bytes())
                .and_then(|()| stdout.flush())
                .context("cannot write to standard output")?;
        }
        Some(path) => {
            let name = super::describe(&path, "standard output");
            replace(&path, json.as_bytes())
                .map_err(|error| CliError::from_path_io(format!("cannot write {name}"), error))?;
        }
    }
    Ok(())
}

/// Replaces `path` through a temporary file beside it, so that it is never half written.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
    let mut temporary = crate::connector::temporary_file_in(dir.unwrap_or(Path::new(".")))?;
    temporary.write_all(bytes)?;
    temporary.persist(path).map_err(|error| error.error)?;
    Ok(())
}
