//! Settings of who may call the API: the authentication policy (`PDF_SEAL_AUTH`), function
//! keys and the network allow-list. Entra ID has settings of its own ([`super::entra`]).

use std::net::SocketAddr;
use std::path::PathBuf;

use super::entra::EntraSettings;
use super::keys_file;
use super::network::NetworkSettings;
use super::{ConfigError, Environment, Secret};

pub const AUTH_VARIABLE: &str = "PDF_SEAL_AUTH";
pub const FUNCTION_KEYS_VARIABLE: &str = "PDF_SEAL_FUNCTION_KEYS";
pub const FUNCTION_KEYS_FILE_VARIABLE: &str = "PDF_SEAL_FUNCTION_KEYS_FILE";

/// The port variable that tells pdf-seal it runs behind the Azure Functions host.
const FUNCTIONS_PORT_VARIABLE: &str = super::http::FUNCTIONS_PORT_VARIABLE;

/// The shortest function key accepted: Azure's generated keys are 56 characters, and a short
/// key could be guessed.
pub const MIN_FUNCTION_KEY_CHARS: usize = 32;

/// One way a caller proves who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// A function key in `x-functions-key` or `?code=`.
    FunctionKey,
    /// An Entra ID access token in `Authorization: Bearer`.
    EntraId,
}

impl AuthMethod {
    /// The name of the method in `PDF_SEAL_AUTH` and in the log.
    pub fn name(self) -> &'static str {
        match self {
            Self::FunctionKey => "function-key",
            Self::EntraId => "entra-id",
        }
    }
}

/// Which credentials a request must carry, read from `PDF_SEAL_AUTH`.
///
/// The value is a comma-separated list of alternatives, any one of which admits a request;
/// an alternative is one method or several joined by `+`, all of which the request must pass
/// (the same shape as an OpenAPI `security` list). `none` alone turns authentication off.
///
/// - `entra-id`: an Entra ID token.
/// - `entra-id+function-key`: a token and a function key, both.
/// - `entra-id,function-key`: a token or a function key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthPolicy {
    alternatives: Vec<Vec<AuthMethod>>,
}

impl AuthPolicy {
    /// No authentication: every caller that reaches the socket is admitted.
    pub fn none() -> Self {
        Self {
            alternatives: Vec::new(),
        }
    }

    /// A policy of the given alternatives, for tests and embedding.
    pub fn new(alternatives: Vec<Vec<AuthMethod>>) -> Self {
        Self { alternatives }
    }

    /// Parses a `PDF_SEAL_AUTH` value.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let invalid = |why: String| {
            ConfigError::new(
                AUTH_VARIABLE,
                format!(
                    "{why}; expected none, entra-id, function-key, or alternatives separated by \
                     ',' whose methods are joined by '+' (entra-id+function-key), found {text:?}"
                ),
            )
        };

        let text = text.trim();
        if text.eq_ignore_ascii_case("none") {
            return Ok(Self::none());
        }
        let mut alternatives: Vec<Vec<AuthMethod>> = Vec::new();
        for alternative in text.split(',') {
            let mut methods = Vec::new();
            for name in alternative.split('+') {
                let method = match name.trim().to_ascii_lowercase().as_str() {
                    "entra-id" => AuthMethod::EntraId,
                    "function-key" => AuthMethod::FunctionKey,
                    "none" => return Err(invalid("none cannot be combined".into())),
                    "" => return Err(invalid("a method name is empty".into())),
                    other => return Err(invalid(format!("unknown method {other:?}"))),
                };
                if !methods.contains(&method) {
                    methods.push(method);
                }
            }
            methods.sort_by_key(|method| method.name());
            if !alternatives.contains(&methods) {
                alternatives.push(methods);
            }
        }
        Ok(Self { alternatives })
    }

    /// The alternatives, each a list of methods that must all pass.
    pub fn alternatives(&self) -> &[Vec<AuthMethod>] {
        &self.alternatives
    }

    /// True when no credential is asked for.
    pub fn is_none(&self) -> bool {
        self.alternatives.is_empty()
    }

    /// True when some alternative uses `method`.
    pub fn uses(&self, method: AuthMethod) -> bool {
        self.alternatives.iter().flatten().any(|m| *m == method)
    }

    /// The policy as `PDF_SEAL_AUTH` spells it, for the start-up log.
    pub fn describe(&self) -> String {
        if self.is_none() {
            return "none".to_owned();
        }
        let alternatives: Vec<String> = self
            .alternatives
            .iter()
            .map(|methods| {
                let names: Vec<&str> = methods.iter().map(|method| method.name()).collect();
                names.join("+")
            })
            .collect();
        alternatives.join(",")
    }
}

/// Where function keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionKeySettings {
    /// `PDF_SEAL_FUNCTION_KEYS`: keys separated by commas. Two keys are listed while one
    /// replaces the other.
    pub keys: Vec<Secret>,
    /// `PDF_SEAL_FUNCTION_KEYS_FILE`: a file with one key per line, as a secret store mounts
    /// it (the Key Vault provider of the Secrets Store CSI driver, Docker or Kubernetes
    /// secrets). It is read again when it changes, so a rotated key is used without a restart.
    pub file: Option<PathBuf>,
}

/// Everything about who may call the API.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// `PDF_SEAL_AUTH`: the credentials a request must carry on every route but
    /// `/api/health`. Default `none`, which is accepted only on a loopback address outside
    /// Azure Functions.
    pub policy: AuthPolicy,
    /// Set when the policy uses `entra-id`.
    pub entra: Option<EntraSettings>,
    /// Set when the policy uses `function-key`.
    pub function_keys: Option<FunctionKeySettings>,
    /// The address allow-list and the trusted proxies, whatever the policy.
    pub network: NetworkSettings,
}

impl AuthSettings {
    /// Reads the settings and refuses an unsafe combination: no authentication on an address
    /// other hosts can reach, or behind the Azure Functions host unless `none` is said
    /// explicitly.
    pub fn resolve(env: &Environment, bind: SocketAddr) -> Result<Self, ConfigError> {
        let explicit = env.get_non_empty(AUTH_VARIABLE)?;
        let policy = match &explicit {
            Some(text) => AuthPolicy::parse(text)?,
            None => AuthPolicy::none(),
        };

        if policy.is_none() && !bind.ip().to_canonical().is_loopback() {
            return Err(ConfigError::new(
                AUTH_VARIABLE,
                format!(
                    "pdf-seal would listen on {bind}, which other hosts can reach, without \
                     authentication; set PDF_SEAL_AUTH to entra-id or function-key, or listen on \
                     a loopback address (--bind 127.0.0.1:7071)"
                ),
            ));
        }
        if explicit.is_none() && env.is_set(FUNCTIONS_PORT_VARIABLE) {
            return Err(ConfigError::new(
                AUTH_VARIABLE,
                "under Azure Functions the host makes pdf-seal reachable from outside, so \
                 PDF_SEAL_AUTH must be set: entra-id, function-key, or none when the function's \
                 authLevel is function and the host's own key check is enough",
            ));
        }

        let entra = if policy.uses(AuthMethod::EntraId) {
            Some(EntraSettings::resolve(env)?)
        } else {
            None
        };
        let function_keys = if policy.uses(AuthMethod::FunctionKey) {
            Some(resolve_function_keys(env)?)
        } else {
            None
        };
        let network = NetworkSettings::resolve(env)?;
        Ok(Self {
            policy,
            entra,
            function_keys,
            network,
        })
    }
}

fn resolve_function_keys(env: &Environment) -> Result<FunctionKeySettings, ConfigError> {
    let keys = match env.get_non_empty(FUNCTION_KEYS_VARIABLE)? {
        Some(text) => parse_keys(&text, FUNCTION_KEYS_VARIABLE)?,
        None => Vec::new(),
    };
    let file = env
        .get_non_empty(FUNCTION_KEYS_FILE_VARIABLE)?
        .map(PathBuf::from);

    if keys.is_empty() && file.is_none() {
        return Err(ConfigError::new(
            FUNCTION_KEYS_VARIABLE,
            "PDF_SEAL_AUTH uses function-key, but no key is configured: set \
             PDF_SEAL_FUNCTION_KEYS (keys separated by commas) or PDF_SEAL_FUNCTION_KEYS_FILE \
             (a file with one key per line)",
        ));
    }
    if let Some(path) = &file {
        let invalid = |reason: String| ConfigError::new(FUNCTION_KEYS_FILE_VARIABLE, reason);
        let content = keys_file::read(path).map_err(invalid)?;
        if let Some((line, reason)) = content.skipped.first() {
            return Err(invalid(format!(
                "line {line} of {}: {reason}",
                path.display()
            )));
        }
        if content.keys.is_empty() {
            return Err(invalid(format!("{} holds no key", path.display())));
        }
    }
    Ok(FunctionKeySettings { keys, file })
}

/// Splits `text` into keys at commas, ignoring blank entries, and checks each. The messages
/// never quote a key.
pub fn parse_keys(text: &str, variable: &str) -> Result<Vec<Secret>, ConfigError> {
    let mut keys = Vec::new();
    for (index, key) in text.split(',').map(str::trim).enumerate() {
        if key.is_empty() {
            continue;
        }
        check_key(key)
            .map_err(|reason| ConfigError::new(variable, format!("key {}: {reason}", index + 1)))?;
        keys.push(Secret::new(key));
    }
    if keys.is_empty() {
        return Err(ConfigError::new(variable, "no key is given"));
    }
    Ok(keys)
}

/// Checks one function key: long enough, and only characters that survive a header and a
/// list. The reason never quotes the key.
pub fn check_key(key: &str) -> Result<(), String> {
    if key.chars().count() < MIN_FUNCTION_KEY_CHARS {
        return Err(format!(
            "the key is shorter than {MIN_FUNCTION_KEY_CHARS} characters; use a long random \
             key, such as the output of `openssl rand -hex 32`"
        ));
    }
    if !key.chars().all(|c| c.is_ascii_graphic()) || key.contains(',') {
        return Err("the key has a character other than visible ASCII, or a comma".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const KEY_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn resolve(bind: &str, pairs: &[(&str, &str)]) -> Result<AuthSettings, ConfigError> {
        let env = Environment::from_pairs(pairs.iter().copied());
        AuthSettings::resolve(&env, bind.parse().unwrap())
    }

    #[test]
    fn parses_alternatives_of_joined_methods() {
        let policy = AuthPolicy::parse(" entra-id+function-key , function-key ").unwrap();

        assert_eq!(
            policy.alternatives(),
            [
                vec![AuthMethod::EntraId, AuthMethod::FunctionKey],
                vec![AuthMethod::FunctionKey]
            ]
        );
        assert_eq!(policy.describe(), "entra-id+function-key,function-key");
    }

    #[test]
    fn refuses_unknown_methods_and_none_in_a_combination() {
        for text in ["basic", "none+entra-id", "entra-id,", "entra-id,none"] {
            let error = AuthPolicy::parse(text).unwrap_err();
            assert_eq!(error.variable, AUTH_VARIABLE, "{text}");
        }
    }

    #[test]
    fn none_is_the_default_on_loopback() {
        let settings = resolve("127.0.0.1:7071", &[]).unwrap();

        assert!(settings.policy.is_none());
    }

    #[test]
    fn refuses_no_authentication_beyond_loopback_naming_the_setting() {
        for pairs in [&[][..], &[(AUTH_VARIABLE, "none")][..]] {
            let error = resolve("0.0.0.0:7071", pairs).unwrap_err();

            assert_eq!(error.variable, AUTH_VARIABLE);
            assert!(error.reason.contains("0.0.0.0:7071"), "{error}");
        }
    }

    #[test]
    fn an_ipv4_mapped_loopback_bind_is_loopback() {
        let settings = resolve("[::ffff:127.0.0.1]:7071", &[]).unwrap();

        assert!(settings.policy.is_none());
    }

    #[test]
    fn under_functions_the_policy_must_be_said() {
        let error = resolve("127.0.0.1:7071", &[(FUNCTIONS_PORT_VARIABLE, "7071")]).unwrap_err();
        assert_eq!(error.variable, AUTH_VARIABLE);

        let explicit = resolve(
            "127.0.0.1:7071",
            &[(FUNCTIONS_PORT_VARIABLE, "7071"), (AUTH_VARIABLE, "none")],
        );
        assert!(explicit.unwrap().policy.is_none());
    }

    #[test]
    fn function_keys_beyond_loopback_are_accepted() {
        let keys = format!("{KEY_A},{KEY_B}");
        let settings = resolve(
            "0.0.0.0:7071",
            &[
                (AUTH_VARIABLE, "function-key"),
                (FUNCTION_KEYS_VARIABLE, &keys),
            ],
        )
        .unwrap();

        let keys = settings.function_keys.unwrap().keys;
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1].expose(), KEY_B);
    }

    #[test]
    fn function_key_mode_without_keys_names_the_variable() {
        let error = resolve("127.0.0.1:0", &[(AUTH_VARIABLE, "function-key")]).unwrap_err();

        assert_eq!(error.variable, FUNCTION_KEYS_VARIABLE);
    }

    #[test]
    fn a_short_key_is_refused_without_being_quoted() {
        let error = resolve(
            "127.0.0.1:0",
            &[
                (AUTH_VARIABLE, "function-key"),
                (FUNCTION_KEYS_VARIABLE, "short-key-123"),
            ],
        )
        .unwrap_err();

        assert_eq!(error.variable, FUNCTION_KEYS_VARIABLE);
        assert!(!error.to_string().contains("short-key-123"), "{error}");
    }

    #[test]
    fn a_keys_file_is_read_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, format!("{KEY_A}\n\n{KEY_B}\n")).unwrap();
        let path_text = path.to_str().unwrap();

        let settings = resolve(
            "127.0.0.1:0",
            &[
                (AUTH_VARIABLE, "function-key"),
                (FUNCTION_KEYS_FILE_VARIABLE, path_text),
            ],
        )
        .unwrap();
        assert_eq!(settings.function_keys.unwrap().file, Some(path.clone()));

        std::fs::write(&path, "tiny\n").unwrap();
        let error = resolve(
            "127.0.0.1:0",
            &[
                (AUTH_VARIABLE, "function-key"),
                (FUNCTION_KEYS_FILE_VARIABLE, path_text),
            ],
        )
        .unwrap_err();
        assert_eq!(error.variable, FUNCTION_KEYS_FILE_VARIABLE);
    }
}
