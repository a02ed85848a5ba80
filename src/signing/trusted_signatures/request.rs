//! One request to `POST /v1/sign`: its JSON body and its four authorization headers.
//!
//! The MAC is HMAC-SHA256 keyed with the hex-decoded API key, over the raw body bytes followed
//! by the time string, sent in base64 (DESIGN.md section 4; their working client MACs the raw
//! body, not a hash of it).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

pub const ALGORITHM_HEADER: &str = "X-Authorization-Algorithm";
pub const TIME_HEADER: &str = "X-Authorization-Time";
pub const KEY_HEADER: &str = "X-Authorization-Key";
pub const MAC_HEADER: &str = "X-Authorization";
/// The value of [`ALGORITHM_HEADER`].
pub const ALGORITHM: &str = "HmacSHA256";

/// ISO 8601 in UTC with milliseconds: `2026-12-04T23:15:30.123Z`.
const TIME_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// The JSON body of a sign request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignBody<'a> {
    digest_algorithm: &'a str,
    digest: String,
    tsa_timestamp: bool,
}

/// The body for the SHA-256 `digest`, as the bytes that are sent and MACed.
pub fn body(digest: &[u8], tsa_timestamp: bool) -> Vec<u8> {
    let body = SignBody {
        digest_algorithm: "SHA256",
        digest: STANDARD.encode(digest),
        tsa_timestamp,
    };
    serde_json::to_vec(&body).expect("three plain fields serialise")
}

/// The value of [`TIME_HEADER`] for `now`.
pub fn time_header(now: OffsetDateTime) -> String {
    now.to_offset(time::UtcOffset::UTC)
        .format(TIME_FORMAT)
        .expect("every UTC time has this form")
}

/// The value of [`MAC_HEADER`]: base64 of HMAC-SHA256(key, body || time).
pub fn mac(key: &[u8], body: &[u8], time: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.update(time.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SHA-256 of the empty string.
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn the_body_names_the_algorithm_the_digest_and_the_time_stamp_choice() {
        let body = body(&hex::decode(EMPTY_SHA256).unwrap(), true);

        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"digestAlgorithm":"SHA256","digest":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","tsaTimestamp":true}"#
        );
    }

    #[test]
    fn the_time_is_utc_with_milliseconds() {
        let time = time::macros::datetime!(2026-12-05 00:15:30.123456 +01:00);

        assert_eq!(time_header(time), "2026-12-04T23:15:30.123Z");
    }

    /// The expected value was computed outside this code, with
    ///
    /// ```text
    /// printf '%s' '<body><time>' | openssl dgst -sha256 -mac HMAC \
    ///     -macopt hexkey:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f \
    ///     -binary | base64
    /// ```
    ///
    /// and again with Python's `hmac.new(bytes(range(32)), body + time, hashlib.sha256)`; both
    /// gave the same value.
    #[test]
    fn the_mac_matches_one_computed_with_openssl() {
        let key = hex::decode("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        let body = body(&hex::decode(EMPTY_SHA256).unwrap(), true);

        let mac = mac(&key.unwrap(), &body, "2026-12-04T23:15:30.123Z");

        assert_eq!(mac, "zs+1Uotm8xHSYpKfI79bZVSOLSY0BmxRWmisSOx0Gxo=");
    }
}
