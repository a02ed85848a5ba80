//! Settings of the Trusted Signatures backend (`PDF_SEAL_SIGNER=trusted-signatures`).
//!
//! Key ids and API keys are secret settings: a value, or `keyvault:...`. A value given here is
//! checked now; one read from Key Vault is checked when the signer reads it
//! ([`check_key_id`], [`check_api_key`]).

use std::time::Duration;

use url::Url;

use crate::config::limits::read_number;
use crate::config::service_url::{Query, parse_service_url};
use crate::config::{ConfigError, Environment, SecretSetting};

pub const URL: &str = "PDF_SEAL_TS_URL";
pub const KEY_ID: &str = "PDF_SEAL_TS_KEY_ID";
pub const API_KEY: &str = "PDF_SEAL_TS_API_KEY";
pub const KEY_ID_SECONDARY: &str = "PDF_SEAL_TS_KEY_ID_SECONDARY";
pub const API_KEY_SECONDARY: &str = "PDF_SEAL_TS_API_KEY_SECONDARY";
pub const TSA_TIMESTAMP: &str = "PDF_SEAL_TS_TSA_TIMESTAMP";
pub const TIMEOUT_SECS: &str = "PDF_SEAL_TS_TIMEOUT_SECS";
pub const RETRIES: &str = "PDF_SEAL_TS_RETRIES";

/// The public API, when `PDF_SEAL_TS_URL` is not set.
pub const DEFAULT_URL: &str = "https://api.trusted-signatures.com";
/// The default of `PDF_SEAL_TS_TIMEOUT_SECS`: one request, connection included.
pub const DEFAULT_TIMEOUT_SECS: u64 = 20;
/// The default of `PDF_SEAL_TS_RETRIES`: attempts after the first, on 5xx, 429 and timeouts.
pub const DEFAULT_RETRIES: u64 = 2;

/// The time-stamp authorities of the raw-signature backends.
const TSA_URLS: &str = "PDF_SEAL_TSA_URLS";

/// The shortest API key accepted, in bytes (128 bits); the longest is [`MAX_API_KEY_BYTES`].
const MIN_API_KEY_BYTES: usize = 16;
const MAX_API_KEY_BYTES: usize = 256;

/// Settings of the Trusted Signatures API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedSignaturesSettings {
    /// `PDF_SEAL_TS_URL`: the base URL; requests go to `{url}/v1/sign`.
    pub url: Url,
    /// `PDF_SEAL_TS_KEY_ID` and `PDF_SEAL_TS_API_KEY`.
    pub primary: ApiKeySettings,
    /// `PDF_SEAL_TS_KEY_ID_SECONDARY` and `PDF_SEAL_TS_API_KEY_SECONDARY`: the other key that
    /// is active during a rotation.
    pub secondary: Option<ApiKeySettings>,
    /// `PDF_SEAL_TS_TSA_TIMESTAMP`: whether the service adds an RFC 3161 time-stamp.
    pub tsa_timestamp: bool,
    /// `PDF_SEAL_TS_TIMEOUT_SECS`: the longest one request may take.
    pub timeout: Duration,
    /// `PDF_SEAL_TS_RETRIES`: attempts after the first when the service fails for now.
    pub retries: u32,
}

/// One API key: its id and its hex value, each a value or a Key Vault secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeySettings {
    pub key_id: SecretSetting,
    pub api_key: SecretSetting,
    /// The variables they come from, for messages.
    pub key_id_variable: &'static str,
    pub api_key_variable: &'static str,
}

impl TrustedSignaturesSettings {
    /// Reads the `PDF_SEAL_TS_*` settings.
    pub fn resolve(env: &Environment) -> Result<Self, ConfigError> {
        let url = match env.get_non_empty(URL)? {
            Some(text) => parse_url(&text)?,
            None => Url::parse(DEFAULT_URL).expect("the default URL is valid"),
        };
        let primary = read_pair(env, KEY_ID, API_KEY)?.ok_or_else(|| {
            let missing = match SecretSetting::read(env, KEY_ID) {
                Ok(Some(_)) => API_KEY,
                _ => KEY_ID,
            };
            ConfigError::new(missing, "missing, and required with trusted-signatures")
        })?;
        let secondary = read_pair(env, KEY_ID_SECONDARY, API_KEY_SECONDARY)?;
        let tsa_timestamp = match env.get_non_empty(TSA_TIMESTAMP)? {
            Some(text) => parse_bool(TSA_TIMESTAMP, &text)?,
            None => true,
        };
        let timeout = read_number(env, TIMEOUT_SECS, 1..=120, "seconds")?;
        let retries = read_number(env, RETRIES, 0..=5, "retries")?;
        refuse_our_time_stamps(env)?;

        Ok(Self {
            url,
            primary,
            secondary,
            tsa_timestamp,
            timeout: Duration::from_secs(timeout.unwrap_or(DEFAULT_TIMEOUT_SECS)),
            retries: retries.unwrap_or(DEFAULT_RETRIES) as u32,
        })
    }

    /// The URL of the sign operation.
    pub fn sign_url(&self) -> Url {
        let mut url = self.url.clone();
        let path = format!("{}/v1/sign", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url
    }
}

/// The service time-stamps its own signatures (`PDF_SEAL_TS_TSA_TIMESTAMP`); pdf-seal's
/// authorities would have no CMS of ours to stamp.
fn refuse_our_time_stamps(env: &Environment) -> Result<(), ConfigError> {
    match env.get_non_empty(TSA_URLS)? {
        Some(_) => Err(ConfigError::new(
            TSA_URLS,
            format!(
                "set, but trusted-signatures builds the whole signature itself: use \
                 {TSA_TIMESTAMP}=true to have it time-stamped"
            ),
        )),
        None => Ok(()),
    }
}

/// Both variables of a key, or neither; values given here are checked now.
fn read_pair(
    env: &Environment,
    key_id_variable: &'static str,
    api_key_variable: &'static str,
) -> Result<Option<ApiKeySettings>, ConfigError> {
    let key_id = SecretSetting::read(env, key_id_variable)?;
    let api_key = SecretSetting::read(env, api_key_variable)?;
    let (key_id, api_key) = match (key_id, api_key) {
        (None, None) => return Ok(None),
        (Some(key_id), Some(api_key)) => (key_id, api_key),
        (Some(_), None) => return Err(half_pair(api_key_variable, key_id_variable)),
        (None, Some(_)) => return Err(half_pair(key_id_variable, api_key_variable)),
    };
    if let SecretSetting::Value(value) = &key_id {
        check_key_id(value.expose()).map_err(|reason| ConfigError::new(key_id_variable, reason))?;
    }
    if let SecretSetting::Value(value) = &api_key {
        check_api_key(value.expose())
            .map_err(|reason| ConfigError::new(api_key_variable, reason))?;
    }
    Ok(Some(ApiKeySettings {
        key_id,
        api_key,
        key_id_variable,
        api_key_variable,
    }))
}

fn half_pair(missing: &str, present: &str) -> ConfigError {
    ConfigError::new(
        missing,
        format!("missing, and required with {present}: a key is its id and its value"),
    )
}

/// A key id is a UUID; the canonical lowercase hyphenated form is what is sent.
pub fn check_key_id(text: &str) -> Result<String, String> {
    let text = text.trim();
    match uuid::Uuid::try_parse(text) {
        Ok(uuid) if text.len() == 36 => Ok(uuid.hyphenated().to_string()),
        _ => Err("expected the key id, a UUID such as \
                  123e4567-e89b-12d3-a456-426614174000"
            .into()),
    }
}

/// An API key is hex, an even number of digits, 16 to 256 bytes; it is the HMAC key once
/// decoded. The reason never quotes the value.
pub fn check_api_key(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    let bytes = hex::decode(text).map_err(|_| {
        format!(
            "expected the API key as hex digits (an even number of them), found {} characters \
             that are not",
            text.len()
        )
    })?;
    if !(MIN_API_KEY_BYTES..=MAX_API_KEY_BYTES).contains(&bytes.len()) {
        return Err(format!(
            "an API key is {MIN_API_KEY_BYTES} to {MAX_API_KEY_BYTES} bytes ({} to {} hex \
             digits), not {}",
            MIN_API_KEY_BYTES * 2,
            MAX_API_KEY_BYTES * 2,
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// An `https` URL, or `http` to a loopback host (tests, a local stand-in); no query, no user.
fn parse_url(text: &str) -> Result<Url, ConfigError> {
    let what = format!("the API's base URL, such as {DEFAULT_URL}");
    parse_service_url(URL, text, &what, Query::Refused)
}

fn parse_bool(variable: &str, text: &str) -> Result<bool, ConfigError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError::new(
            variable,
            format!("expected true or false, found {text:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0b1c5a3e-6f7d-4c2b-9a8e-1d2f3a4b5c6d";
    const ID2: &str = "7e6d5c4b-3a29-4180-8f7e-6d5c4b3a2918";
    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn resolve(pairs: &[(&str, &str)]) -> Result<TrustedSignaturesSettings, ConfigError> {
        let mut all = vec![(KEY_ID, ID), (API_KEY, KEY)];
        all.retain(|(name, _)| !pairs.iter().any(|(other, _)| other == name));
        all.extend_from_slice(pairs);
        TrustedSignaturesSettings::resolve(&Environment::from_pairs(all))
    }

    #[test]
    fn defaults_to_the_public_api_with_time_stamps_and_no_secondary_key() {
        let settings = resolve(&[]).unwrap();

        assert_eq!(
            settings.sign_url().as_str(),
            "https://api.trusted-signatures.com/v1/sign"
        );
        assert!(settings.tsa_timestamp);
        assert_eq!(settings.secondary, None);
        assert_eq!(settings.timeout, Duration::from_secs(20));
        assert_eq!(settings.retries, 2);
    }

    #[test]
    fn reads_every_setting() {
        let settings = resolve(&[
            (URL, "http://127.0.0.1:8080/ts/"),
            (KEY_ID_SECONDARY, ID2),
            (API_KEY_SECONDARY, "keyvault:ts-api-key-2"),
            (TSA_TIMESTAMP, "False"),
            (TIMEOUT_SECS, "5"),
            (RETRIES, "0"),
        ])
        .unwrap();

        assert_eq!(
            settings.sign_url().as_str(),
            "http://127.0.0.1:8080/ts/v1/sign"
        );
        let secondary = settings.secondary.unwrap();
        assert!(matches!(secondary.api_key, SecretSetting::KeyVault(_)));
        assert!(!settings.tsa_timestamp);
        assert_eq!(settings.timeout, Duration::from_secs(5));
        assert_eq!(settings.retries, 0);
    }

    #[test]
    fn refusals_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[(KEY_ID, "not-a-uuid")], KEY_ID),
            (
                &[(KEY_ID, "{0b1c5a3e-6f7d-4c2b-9a8e-1d2f3a4b5c6d}")],
                KEY_ID,
            ),
            (&[(API_KEY, "0011zz")], API_KEY),
            (&[(API_KEY, "001")], API_KEY),
            (&[(API_KEY, "00112233")], API_KEY),
            (&[(API_KEY, "")], API_KEY),
            (&[(KEY_ID_SECONDARY, ID2)], API_KEY_SECONDARY),
            (&[(API_KEY_SECONDARY, KEY)], KEY_ID_SECONDARY),
            (&[(URL, "http://signer.example.com")], URL),
            (&[(URL, "ftp://127.0.0.1")], URL),
            (&[(URL, "https://user:pw@signer.example.com")], URL),
            (&[(TSA_TIMESTAMP, "yes")], TSA_TIMESTAMP),
            (&[(TIMEOUT_SECS, "0")], TIMEOUT_SECS),
            (&[(RETRIES, "9")], RETRIES),
            (
                &[("PDF_SEAL_TSA_URLS", "http://127.0.0.1:1")],
                "PDF_SEAL_TSA_URLS",
            ),
        ];
        for (pairs, variable) in cases {
            let error = resolve(pairs).unwrap_err();
            assert_eq!(error.variable, *variable, "{pairs:?}: {error}");
        }
        let no_key = TrustedSignaturesSettings::resolve(&Environment::default()).unwrap_err();
        assert_eq!(no_key.variable, KEY_ID);
    }

    #[test]
    fn a_bad_api_key_is_refused_without_quoting_it() {
        let secret = "5ecre7-5ecre7-5ecre7-5ecre7-5ecre7";

        let error = resolve(&[(API_KEY, secret)]).unwrap_err();

        assert!(!error.to_string().contains(secret), "{error}");
    }

    #[test]
    fn debug_output_hides_the_api_keys() {
        let settings = resolve(&[(KEY_ID_SECONDARY, ID2), (API_KEY_SECONDARY, KEY)]).unwrap();

        let shown = format!("{settings:?}");

        assert!(!shown.contains(KEY), "{shown}");
        assert!(!shown.contains("aabbccddeeff"), "{shown}");
    }

    #[test]
    fn key_ids_are_sent_in_lowercase() {
        assert_eq!(check_key_id(&ID.to_uppercase()).unwrap(), ID);
    }
}
