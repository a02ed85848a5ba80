//! A pinned source blob as a [`pdf_seal_core::pdf::Source`].
