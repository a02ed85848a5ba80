//! Account SAS tokens for Azurite's development account.
//!
//! A file of its own, with no other support module behind it, so that the bench's reference
//! transfer (`examples/blob_transfer.rs`) signs its tokens with this same code: it includes the
//! file with `#[path]`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The account every Azurite has, with its published key: a fixed test value, not a secret.
pub const ACCOUNT: &str = "devstoreaccount1";
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// An account SAS for the Blob and Queue services of the development account, signed with `key`
/// (base64), allowing `permissions` until `expiry`.
///
/// Made by hand, as the SDK has no SAS builder: HMAC-SHA256 over the account SAS string to sign
/// of service version 2020-12-06 and later, whose fields are the account name, permissions,
/// services, resource types, start, expiry, IP range, protocol, version and encryption scope, each
/// followed by a newline.
pub fn account_sas_with_key(key: &str, permissions: &str, expiry: OffsetDateTime) -> String {
    let version = "2021-08-06";
    let (services, resource_types, protocol) = ("bq", "sco", "https,http");
    let expiry = expiry
        .replace_nanosecond(0)
        .unwrap()
        .format(&Rfc3339)
        .unwrap();
    let to_sign = format!(
        "{ACCOUNT}\n{permissions}\n{services}\n{resource_types}\n\n{expiry}\n\n{protocol}\n\
         {version}\n\n"
    );

    let key = STANDARD.decode(key).expect("the key is base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(to_sign.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());

    let encode = |value: &str| url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let pairs: [(&str, String); 7] = [
        ("sv", version.to_owned()),
        ("ss", services.to_owned()),
        ("srt", resource_types.to_owned()),
        ("sp", permissions.to_owned()),
        ("se", encode(&expiry)),
        ("spr", encode(protocol)),
        ("sig", encode(&signature)),
    ];
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// An account SAS with every permission the backend needs, valid for a day.
pub fn account_sas() -> String {
    let expiry = OffsetDateTime::now_utc() + time::Duration::days(1);
    account_sas_with_key(ACCOUNT_KEY, "rwdlacup", expiry)
}
