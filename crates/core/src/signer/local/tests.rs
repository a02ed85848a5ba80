//! Tests of the local signer on keys and certificates made by the `openssl` command line
//! (see [`super::testing`] for the commands).

mod chain_order;
mod pem_keys;
mod pkcs12_files;
mod signing;

use super::LocalSigner;
use super::testing::OpenSsl;

/// Loads `leaf.key` with `chain.pem`, as made by [`OpenSsl::chain`].
fn load_chain(ssl: &OpenSsl) -> LocalSigner {
    LocalSigner::from_pem(&ssl.read("leaf.key"), &ssl.read("chain.pem"), None)
        .expect("the openssl chain loads")
}

/// The common name of the signer certificate, as the Debug output shows it.
fn signer_subject(signer: &LocalSigner) -> String {
    use crate::signer::RawSigner;

    signer.certificates()[0]
        .tbs_certificate()
        .subject()
        .to_string()
}
