//! Reading a PDF from its tail and writing the incremental update that carries the seal.

mod decode;
pub mod form;
pub mod object;
mod parser;
pub mod reader;
mod recover;
mod source;
#[cfg(test)]
mod tests;
pub mod update;
mod xref;

pub use object::{Dictionary, ObjRef, Object};
pub use reader::{Document, XrefKind};
pub use source::Source;
pub use update::{Update, WrittenUpdate};

/// Why a document could not be read or updated. Offsets are byte positions in the input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PdfError {
    #[error("not a PDF: {0}")]
    NotPdf(String),
    #[error("malformed PDF at byte {offset}: {reason}")]
    Malformed { offset: u64, reason: String },
    #[error("encrypted documents are not supported yet")]
    Encrypted,
    #[error("the page tree reaches object {0} twice: a cycle, or a node with two parents")]
    PageTreeCycle(u32),
    #[error("the document has no pages")]
    NoPages,
    #[error("reading the document: {0}")]
    Io(#[from] std::io::Error),
}
