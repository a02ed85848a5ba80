//! Splitting PEM text into its blocks (RFC 7468), whatever surrounds them.
//!
//! Key and certificate files often carry more than one block and some text around them: an
//! `EC PARAMETERS` block before the key, "Bag Attributes" lines written by `openssl pkcs12`, a
//! whole chain. Each block is cut out and decoded on its own.

use zeroize::Zeroizing;

use crate::signer::SignerError;

const BEGIN: &str = "-----BEGIN ";
const DASHES: &str = "-----";

/// One decoded PEM block; the bytes are wiped when dropped, since they may be a private key.
pub(super) struct PemBlock {
    pub label: String,
    pub der: Zeroizing<Vec<u8>>,
}

/// Every PEM block of `text`, in order. `what` names the input in error messages.
pub(super) fn blocks(text: &[u8], what: &str) -> Result<Vec<PemBlock>, SignerError> {
    let text = std::str::from_utf8(text)
        .map_err(|_| SignerError::Key(format!("the {what} is not PEM text")))?;

    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let (pem, after) = split_block(block, what)?;
        found.push(decode(pem, what)?);
        rest = after;
    }
    Ok(found)
}

/// Cuts the first block out of `text`, which starts with `-----BEGIN `.
fn split_block<'a>(text: &'a str, what: &str) -> Result<(&'a str, &'a str), SignerError> {
    let unterminated = || SignerError::Key(format!("the {what} has an unterminated PEM block"));

    let label_end = text[BEGIN.len()..].find(DASHES).ok_or_else(unterminated)?;
    let label = &text[BEGIN.len()..BEGIN.len() + label_end];
    let end_marker = format!("-----END {label}-----");
    let end = text.find(&end_marker).ok_or_else(unterminated)? + end_marker.len();
    Ok((&text[..end], &text[end..]))
}

fn decode(pem: &str, what: &str) -> Result<PemBlock, SignerError> {
    if pem.contains("Proc-Type:") {
        return Err(SignerError::Key(format!(
            "the {what} uses the legacy OpenSSL PEM encryption (Proc-Type header), which is not \
             supported: convert it to encrypted PKCS#8 with `openssl pkcs8 -topk8`"
        )));
    }

    let (label, der) = der::pem::decode_vec(pem.as_bytes())
        .map_err(|e| SignerError::Key(format!("the {what} holds a damaged PEM block: {e}")))?;
    Ok(PemBlock {
        label: label.to_owned(),
        der: Zeroizing::new(der),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "-----BEGIN THING-----\nAQID\n-----END THING-----\n";

    #[test]
    fn finds_blocks_among_other_text() {
        let text = format!("Bag Attributes\n  localKeyID: 01\n{ONE}junk\r\n{ONE}");

        let found = blocks(text.as_bytes(), "test file").unwrap();

        assert_eq!(found.len(), 2);
        assert_eq!(found[0].label, "THING");
        assert_eq!(found[1].der.as_slice(), &[1, 2, 3]);
    }

    #[test]
    fn text_without_blocks_gives_none() {
        assert!(blocks(b"nothing here", "test file").unwrap().is_empty());
    }

    #[test]
    fn unterminated_block_is_an_error() {
        let error = blocks(b"-----BEGIN THING-----\nAQID\n", "test file")
            .err()
            .unwrap();

        assert!(error.to_string().contains("unterminated"), "{error}");
    }

    #[test]
    fn legacy_encrypted_pem_is_refused_with_advice() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: \
                    AES-128-CBC,00\n\nAQID\n-----END RSA PRIVATE KEY-----\n";

        let error = blocks(text.as_bytes(), "key file").err().unwrap();

        assert!(error.to_string().contains("pkcs8 -topk8"), "{error}");
    }
}
