//! The signer certificate comes first, then its issuers, then anything else.

use super::super::LocalSigner;
use super::super::testing::{KeyKind, OpenSsl};
use crate::signer::RawSigner;

fn common_names(signer: &LocalSigner) -> Vec<String> {
    signer
        .certificates()
        .iter()
        .map(|c| c.tbs_certificate().subject().to_string())
        .map(|subject| {
            let after = subject.split("CN=").nth(1).unwrap_or_default();
            after.split(',').next().unwrap_or_default().to_owned()
        })
        .collect()
}

#[test]
fn orders_a_shuffled_chain_from_signer_to_root_and_keeps_others_after() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    ssl.root("other", KeyKind::P256);
    let shuffled = [
        ssl.read("root.pem"),
        ssl.read("other.pem"),
        ssl.read("leaf.pem"),
        ssl.read("inter.pem"),
    ]
    .concat();

    let signer = LocalSigner::from_pem(&ssl.read("leaf.key"), &shuffled, None).unwrap();

    assert_eq!(common_names(&signer), ["leaf", "inter", "root", "other"]);
}

#[test]
fn drops_repeated_certificates() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    let repeated = [
        ssl.read("chain.pem"),
        ssl.read("inter.pem"),
        ssl.read("leaf.pem"),
    ]
    .concat();

    let signer = LocalSigner::from_pem(&ssl.read("leaf.key"), &repeated, None).unwrap();

    assert_eq!(common_names(&signer), ["leaf", "inter", "root"]);
}

#[test]
fn stops_at_a_missing_issuer() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    let without_intermediate = [ssl.read("root.pem"), ssl.read("leaf.pem")].concat();

    let signer = LocalSigner::from_pem(&ssl.read("leaf.key"), &without_intermediate, None).unwrap();

    assert_eq!(common_names(&signer), ["leaf", "root"]);
}
