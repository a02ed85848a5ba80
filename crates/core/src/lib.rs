//! The sealing core of pdf-seal.
//!
//! It reads a PDF from its tail, appends an incremental update that carries a PAdES signature
//! and asks a [`signer::Signer`] for the CMS container. It knows nothing of HTTP, Azure or the
//! file system beyond the [`pdf::Source`] it is given: the service, the command line and the
//! blob jobs are thin shells around [`seal::seal`].

pub mod pades;
pub mod pdf;
pub mod seal;
pub mod signer;

pub use seal::{ErrorKind, Prepared, SealError, SealOptions, Sealed, check_options, prepare, seal};
