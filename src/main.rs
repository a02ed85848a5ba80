//! The `pdf-seal` command; everything it does lives in the library's [`pdf_seal::cli`].

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    pdf_seal::cli::run(pdf_seal::cli::Cli::parse())
}
