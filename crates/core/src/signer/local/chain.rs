//! Ordering a bag of certificates into the chain of one key.

use x509_cert::Certificate;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, SubjectKeyIdentifier};

use super::key::PrivateKey;
use crate::signer::SignerError;

/// The certificate of `key` first, then its issuer, the issuer's issuer and so on as far as
/// the given certificates reach, then the certificates that are not part of that path, in
/// their original order. Exact duplicates are dropped.
pub(super) fn order(
    key: &PrivateKey,
    certificates: Vec<Certificate>,
) -> Result<Vec<Certificate>, SignerError> {
    let mut rest = without_duplicates(certificates);
    let Some(leaf) = rest
        .iter()
        .position(|c| key.matches(c.tbs_certificate().subject_public_key_info()))
    else {
        return Err(no_match(key, rest.len()));
    };

    let mut chain = vec![rest.remove(leaf)];
    while let Some(last) = chain.last() {
        if is_self_issued(last) {
            break;
        }
        let Some(issuer) = find_issuer(last, &rest) else {
            break;
        };
        chain.push(rest.remove(issuer));
    }

    chain.extend(rest);
    Ok(chain)
}

fn no_match(key: &PrivateKey, count: usize) -> SignerError {
    SignerError::Key(match count {
        0 => "no certificate was given with the private key".into(),
        1 => format!(
            "the certificate does not match the private key ({}): it belongs to another key",
            key.describe()
        ),
        n => format!(
            "none of the {n} certificates matches the private key ({})",
            key.describe()
        ),
    })
}

fn without_duplicates(certificates: Vec<Certificate>) -> Vec<Certificate> {
    let mut unique: Vec<Certificate> = Vec::with_capacity(certificates.len());
    for certificate in certificates {
        if !unique.contains(&certificate) {
            unique.push(certificate);
        }
    }
    unique
}

fn is_self_issued(certificate: &Certificate) -> bool {
    let tbs = certificate.tbs_certificate();
    tbs.subject() == tbs.issuer()
}

/// The position in `candidates` of the issuer of `child`: its subject is the child's issuer
/// and, when both identifiers are present, its subject key identifier is the child's
/// authority key identifier (RFC 5280 sections 4.2.1.1 and 4.2.1.2).
fn find_issuer(child: &Certificate, candidates: &[Certificate]) -> Option<usize> {
    let child_tbs = child.tbs_certificate();
    let wanted_key_id = child_tbs
        .get_extension::<AuthorityKeyIdentifier>()
        .ok()
        .flatten()
        .and_then(|(_, aki)| aki.key_identifier);

    candidates.iter().position(|candidate| {
        let tbs = candidate.tbs_certificate();
        if tbs.subject() != child_tbs.issuer() {
            return false;
        }
        let key_id = tbs
            .get_extension::<SubjectKeyIdentifier>()
            .ok()
            .flatten()
            .map(|(_, ski)| ski.0);
        match (&wanted_key_id, key_id) {
            (Some(wanted), Some(key_id)) => *wanted == key_id,
            _ => true,
        }
    })
}
