//! `pdf-seal openapi [--out FILE]`.

use std::path::PathBuf;

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
        None => print!("{json}"),
        Some(path) => {
            let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
            let dir = dir.unwrap_or(std::path::Path::new("."));
            let name = super::describe(&path, "standard output");
            let write = || -> std::io::Result<()> {
                let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
                std::io::Write::write_all(&mut temporary, json.as_bytes())?;
                temporary.persist(&path).map_err(|error| error.error)?;
                Ok(())
            };
            write()
                .map_err(|error| CliError::from_path_io(format!("cannot write {name}"), error))?;
        }
    }
    Ok(())
}
