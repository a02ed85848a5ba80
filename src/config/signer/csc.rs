//! Settings of the CSC backend (`PDF_SEAL_SIGNER=csc`): a Cloud Signature Consortium trust
//! service that signs the hash of the signed attributes.

use std::time::Duration;

use url::Url;

use crate::config::limits::read_number;
use crate::config::service_url::{Query, parse_service_url};
use crate::config::{ConfigError, Environment, SecretSetting};

/// `PDF_SEAL_CSC_URL`: the service's base URL, before `/csc/v1` or `/csc/v2`.
pub const URL: &str = "PDF_SEAL_CSC_URL";
/// `PDF_SEAL_CSC_VERSION`: `v2` (the default) or `v1`.
pub const VERSION: &str = "PDF_SEAL_CSC_VERSION";
/// `PDF_SEAL_CSC_CREDENTIAL_ID`: the credential (key and certificate) that signs.
pub const CREDENTIAL_ID: &str = "PDF_SEAL_CSC_CREDENTIAL_ID";
/// `PDF_SEAL_CSC_TOKEN_URL`: the OAuth2 token endpoint (client credentials grant).
pub const TOKEN_URL: &str = "PDF_SEAL_CSC_TOKEN_URL";
/// `PDF_SEAL_CSC_CLIENT_ID`: the OAuth2 client id.
pub const CLIENT_ID: &str = "PDF_SEAL_CSC_CLIENT_ID";
/// `PDF_SEAL_CSC_CLIENT_SECRET`: the OAuth2 client secret, or `keyvault:NAME`.
pub const CLIENT_SECRET: &str = "PDF_SEAL_CSC_CLIENT_SECRET";
/// `PDF_SEAL_CSC_SCOPE`: the OAuth2 scope to ask for, when the service wants one.
pub const SCOPE: &str = "PDF_SEAL_CSC_SCOPE";
/// `PDF_SEAL_CSC_PIN`: the credential's PIN, for credentials whose `authMode` is `explicit`.
pub const PIN: &str = "PDF_SEAL_CSC_PIN";
/// `PDF_SEAL_CSC_TIMEOUT_SECS`: the longest wait for one request to the service.
pub const TIMEOUT_SECS: &str = "PDF_SEAL_CSC_TIMEOUT_SECS";

/// The default of [`TIMEOUT_SECS`].
pub const DEFAULT_TIMEOUT_SECS: u64 = 15;

/// The version of the CSC API that the service speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CscVersion {
    /// CSC API 1.0.4: `/csc/v1/...`, `hash` and `hashAlgo`, a SAD on every signHash.
    V1,
    /// CSC API 2.x: `/csc/v2/...`, `hashes` and `hashAlgorithmOID`.
    #[default]
    V2,
}

impl CscVersion {
    /// The path segment of the API: `v1` or `v2`.
    pub fn segment(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
        }
    }
}

/// OAuth2 client credentials (RFC 6749 section 4.4) for the service's bearer tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthSettings {
    pub token_url: Url,
    pub client_id: String,
    pub client_secret: SecretSetting,
    pub scope: Option<String>,
}

/// Settings of a Cloud Signature Consortium trust service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CscSettings {
    /// The base URL, ending in `/` so that `csc/v2/...` joins below it.
    pub url: Url,
    pub version: CscVersion,
    pub credential_id: String,
    /// `None` when the service takes unauthenticated requests (such as certomancer's CSC
    /// dummy). Boxed, as is the PIN, to keep the signer settings small.
    pub oauth: Option<Box<OAuthSettings>>,
    pub pin: Option<Box<SecretSetting>>,
    pub timeout: Duration,
}

impl CscSettings {
    /// Reads the `PDF_SEAL_CSC_*` settings; each error names its variable.
    pub fn resolve(env: &Environment) -> Result<Self, ConfigError> {
        let url = required(env, URL)?;
        let url = parse_url(URL, &url, "the CSC service's base URL")?;
        let version = match env.get_non_empty(VERSION)?.as_deref().map(str::trim) {
            None | Some("v2" | "2") => CscVersion::V2,
            Some("v1" | "1") => CscVersion::V1,
            Some(other) => {
                return Err(ConfigError::new(
                    VERSION,
                    format!("unknown CSC API version {other:?}: use v1 or v2"),
                ));
            }
        };
        let credential_id = required(env, CREDENTIAL_ID)?.trim().to_string();
        if credential_id.is_empty() || credential_id.chars().any(char::is_control) {
            return Err(ConfigError::new(
                CREDENTIAL_ID,
                "expected the credential id the service gave, without control characters",
            ));
        }
        let timeout =
            read_number(env, TIMEOUT_SECS, 1..=300, "seconds")?.unwrap_or(DEFAULT_TIMEOUT_SECS);

        Ok(Self {
            url: with_trailing_slash(url),
            version,
            credential_id,
            oauth: oauth(env)?,
            pin: SecretSetting::read(env, PIN)?.map(Box::new),
            timeout: Duration::from_secs(timeout),
        })
    }
}

/// The OAuth2 settings: all of the token URL, client id and secret, or none of them.
fn oauth(env: &Environment) -> Result<Option<Box<OAuthSettings>>, ConfigError> {
    let token_url = env.get_non_empty(TOKEN_URL)?;
    let client_id = env.get_non_empty(CLIENT_ID)?;
    let client_secret = SecretSetting::read(env, CLIENT_SECRET)?;
    let scope = env.get_non_empty(SCOPE)?;

    let Some(token_url) = token_url else {
        for (variable, set) in [
            (CLIENT_ID, client_id.is_some()),
            (CLIENT_SECRET, client_secret.is_some()),
            (SCOPE, scope.is_some()),
        ] {
            if set {
                return Err(ConfigError::new(
                    variable,
                    format!("set, but {TOKEN_URL} is not: set both, or neither"),
                ));
            }
        }
        return Ok(None);
    };
    let token_url = parse_url(TOKEN_URL, &token_url, "the OAuth2 token endpoint")?;
    let missing =
        |variable: &str| ConfigError::new(variable, format!("required when {TOKEN_URL} is set"));
    Ok(Some(Box::new(OAuthSettings {
        token_url,
        client_id: client_id
            .ok_or_else(|| missing(CLIENT_ID))?
            .trim()
            .to_string(),
        client_secret: client_secret.ok_or_else(|| missing(CLIENT_SECRET))?,
        scope: scope.map(|s| s.trim().to_string()),
    })))
}

fn required(env: &Environment, variable: &str) -> Result<String, ConfigError> {
    env.get_non_empty(variable)?
        .ok_or_else(|| ConfigError::new(variable, "required when PDF_SEAL_SIGNER is csc"))
}

/// An `https` URL, or `http` to a loopback host (tests, a local trust service); no user
/// information, query or fragment.
fn parse_url(variable: &str, text: &str, what: &str) -> Result<Url, ConfigError> {
    parse_service_url(variable, text, what, Query::Refused)
}

fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(pairs.iter().copied())
    }

    const BASE: &[(&str, &str)] = &[
        (URL, "https://csc.example.test/api"),
        (CREDENTIAL_ID, "seal-1"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Environment {
        let mut pairs = BASE.to_vec();
        pairs.extend_from_slice(extra);
        env(&pairs)
    }

    #[test]
    fn the_minimal_settings_default_to_v2_without_oauth_and_thirty_seconds() {
        let settings = CscSettings::resolve(&with(&[])).unwrap();

        assert_eq!(settings.url.as_str(), "https://csc.example.test/api/");
        assert_eq!(settings.version, CscVersion::V2);
        assert_eq!(settings.credential_id, "seal-1");
        assert_eq!(settings.oauth, None);
        assert_eq!(settings.pin, None);
        assert_eq!(settings.timeout, Duration::from_secs(15));
    }

    #[test]
    fn reads_oauth_version_pin_and_timeout() {
        let settings = CscSettings::resolve(&with(&[
            (VERSION, "v1"),
            (TOKEN_URL, "https://login.example.test/token"),
            (CLIENT_ID, "seal-app"),
            (CLIENT_SECRET, "keyvault:csc-secret"),
            (SCOPE, "service"),
            (PIN, "1234"),
            (TIMEOUT_SECS, "5"),
        ]))
        .unwrap();

        assert_eq!(settings.version, CscVersion::V1);
        let oauth = settings.oauth.unwrap();
        assert_eq!(oauth.token_url.as_str(), "https://login.example.test/token");
        assert_eq!(oauth.client_id, "seal-app");
        assert!(matches!(oauth.client_secret, SecretSetting::KeyVault(_)));
        assert_eq!(oauth.scope.as_deref(), Some("service"));
        assert!(matches!(
            settings.pin.as_deref(),
            Some(SecretSetting::Value(_))
        ));
        assert_eq!(settings.timeout, Duration::from_secs(5));
    }

    #[test]
    fn plain_http_is_accepted_for_loopback_only() {
        let local = env(&[(URL, "http://127.0.0.1:8999"), (CREDENTIAL_ID, "a/b")]);
        assert_eq!(
            CscSettings::resolve(&local).unwrap().url.as_str(),
            "http://127.0.0.1:8999/"
        );

        let remote = env(&[(URL, "http://csc.example.test"), (CREDENTIAL_ID, "a/b")]);
        let error = CscSettings::resolve(&remote).unwrap_err();
        assert_eq!(error.variable, URL);
        assert!(error.reason.contains("loopback"), "{}", error.reason);
    }

    #[test]
    fn each_bad_or_missing_setting_is_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[(CREDENTIAL_ID, "a")], URL),
            (&[(URL, "https://x.test")], CREDENTIAL_ID),
            (&[(URL, "ftp://x.test"), (CREDENTIAL_ID, "a")], URL),
            (&[(URL, "https://u:p@x.test"), (CREDENTIAL_ID, "a")], URL),
            (
                &[
                    (URL, "https://x.test"),
                    (CREDENTIAL_ID, "a"),
                    (VERSION, "3"),
                ],
                VERSION,
            ),
            (
                &[
                    (URL, "https://x.test"),
                    (CREDENTIAL_ID, "a"),
                    (TIMEOUT_SECS, "0"),
                ],
                TIMEOUT_SECS,
            ),
            (
                &[
                    (URL, "https://x.test"),
                    (CREDENTIAL_ID, "a"),
                    (CLIENT_ID, "c"),
                ],
                CLIENT_ID,
            ),
            (
                &[
                    (URL, "https://x.test"),
                    (CREDENTIAL_ID, "a"),
                    (TOKEN_URL, "https://t.test"),
                ],
                CLIENT_ID,
            ),
            (
                &[
                    (URL, "https://x.test"),
                    (CREDENTIAL_ID, "a"),
                    (TOKEN_URL, "https://t.test"),
                    (CLIENT_ID, "c"),
                ],
                CLIENT_SECRET,
            ),
            (
                &[
                    (URL, "https://x.test"),
                    (CREDENTIAL_ID, "a"),
                    (TOKEN_URL, "http://t.test"),
                ],
                TOKEN_URL,
            ),
        ];
        for (pairs, variable) in cases {
            let error = CscSettings::resolve(&env(pairs)).unwrap_err();
            assert_eq!(error.variable, *variable, "{pairs:?}: {}", error.reason);
        }
    }

    #[test]
    fn debug_output_hides_the_client_secret_and_the_pin() {
        let settings = CscSettings::resolve(&with(&[
            (TOKEN_URL, "https://login.example.test/token"),
            (CLIENT_ID, "seal-app"),
            (CLIENT_SECRET, "s3cr3t-value"),
            (PIN, "98765"),
        ]))
        .unwrap();

        let debug = format!("{settings:?}");
        assert!(!debug.contains("s3cr3t-value"), "{debug}");
        assert!(!debug.contains("98765"), "{debug}");
    }
}
