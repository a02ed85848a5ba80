//! Settings of the signer that `seal` and `serve` share: which backend signs
//! (`PDF_SEAL_SIGNER`), its settings, and the time-stamp authorities for PAdES B-T.
//!
//! The local key's settings are here; each remote backend has a module of its own.

pub mod csc;
pub mod key_vault;
pub mod timestamps;
pub mod trusted_signatures;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use pdf_seal_core::signer::local::RsaPadding;

use super::http::FUNCTIONS_PORT_VARIABLE;
use super::{ConfigError, Environment, Secret, SecretSetting};

const KEY: &str = "--signing-key / PDF_SEAL_SIGNING_KEY";
const CERTS: &str = "--signing-certs / PDF_SEAL_SIGNING_CERTS";
const KEY_PASSWORD: &str = "PDF_SEAL_SIGNING_KEY_PASSWORD";
const PKCS12: &str = "--pkcs12 / PDF_SEAL_PKCS12";
const PKCS12_PASSWORD: &str = "PDF_SEAL_PKCS12_PASSWORD";
const RSA_PADDING: &str = "--rsa-padding / PDF_SEAL_RSA_PADDING";
const STATE_DIR: &str = "--state-dir / PDF_SEAL_STATE_DIR";

/// The signer flags, each also read from its environment variable. Values are checked by
/// [`SignerSettings::resolve`], whose errors name the variable; an empty value counts as unset.
/// Passwords are never flags (a flag shows in the process list): they come from the
/// environment only.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct SignerArgs {
    /// PEM private key of the seal (PKCS#8, encrypted PKCS#8, PKCS#1 or SEC1); its password,
    /// if any, comes from PDF_SEAL_SIGNING_KEY_PASSWORD
    #[arg(long, env = "PDF_SEAL_SIGNING_KEY", value_name = "FILE")]
    pub signing_key: Option<OsString>,

    /// PEM certificate chain of the seal key: the seal certificate first, then its issuers
    #[arg(long, env = "PDF_SEAL_SIGNING_CERTS", value_name = "FILE")]
    pub signing_certs: Option<OsString>,

    /// PKCS#12 (PFX) file with the seal key and its chain; its password comes from
    /// PDF_SEAL_PKCS12_PASSWORD
    #[arg(long, env = "PDF_SEAL_PKCS12", value_name = "FILE")]
    pub pkcs12: Option<OsString>,

    /// RSA signature scheme: pkcs1v15 (default) or pss; ignored for EC keys
    #[arg(long, env = "PDF_SEAL_RSA_PADDING", value_name = "SCHEME")]
    pub rsa_padding: Option<String>,

    /// Directory for pdf-seal's own state, such as the development credentials [default:
    /// $XDG_STATE_HOME/pdf-seal, else $HOME/.local/state/pdf-seal; $HOME/data/pdf-seal on
    /// Azure Functions]
    #[arg(long, env = "PDF_SEAL_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<OsString>,
}

/// Where the seal key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigningKeySource {
    /// A PEM key file and a PEM chain file.
    Pem {
        key: PathBuf,
        certificates: PathBuf,
        /// `PDF_SEAL_SIGNING_KEY_PASSWORD`, for an encrypted PKCS#8 key: the value, or a
        /// `keyvault:` reference read once at start.
        password: Option<SecretSetting>,
    },
    /// A PKCS#12 file.
    Pkcs12 {
        path: PathBuf,
        /// `PDF_SEAL_PKCS12_PASSWORD` (a value or a `keyvault:` reference, read once at
        /// start); empty when unset.
        password: SecretSetting,
    },
    /// No key is configured: development credentials kept in `state_dir/dev-cert/`.
    Development { state_dir: PathBuf },
}

/// `PDF_SEAL_SIGNER`: which backend makes the signature.
pub const SIGNER: &str = "PDF_SEAL_SIGNER";

/// The signer backend and its settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerBackend {
    /// `local` (the default): a key in this process, or the development credentials.
    Local(SigningKeySource),
    /// `trusted-signatures`: the Trusted Signatures API returns the whole CMS.
    TrustedSignatures(Box<trusted_signatures::TrustedSignaturesSettings>),
    /// `csc`: a Cloud Signature Consortium trust service signs the hash.
    Csc(csc::CscSettings),
    /// `azure-key-vault`: a key in Azure Key Vault or Managed HSM signs the hash.
    AzureKeyVault(key_vault::KeyVaultKeySettings),
}

impl SignerBackend {
    /// The value of `PDF_SEAL_SIGNER` that selects this backend.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Local(_) => "local",
            Self::TrustedSignatures(_) => "trusted-signatures",
            Self::Csc(_) => "csc",
            Self::AzureKeyVault(_) => "azure-key-vault",
        }
    }
}

/// Settings of the signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerSettings {
    /// The backend that signs.
    pub backend: SignerBackend,
    /// `PDF_SEAL_RSA_PADDING`: the RSA signature scheme of the local key, Key Vault and CSC keys.
    pub rsa_padding: RsaPadding,
    /// The time-stamp authorities that make the seals PAdES B-T, for the backends whose CMS
    /// pdf-seal builds; `None` seals at B-B.
    pub timestamps: Option<timestamps::TimestampSettings>,
}

impl SignerSettings {
    /// Checks the flags and the environment: `PDF_SEAL_SIGNER` chooses the backend, whose
    /// settings are then read; the local key's flags are refused with another backend.
    pub fn resolve(args: &SignerArgs, env: &Environment) -> Result<Self, ConfigError> {
        let rsa_padding = match args.rsa_padding.as_deref().filter(|text| !text.is_empty()) {
            Some(text) => parse_rsa_padding(text)?,
            None => RsaPadding::default(),
        };
        let timestamps = timestamps::TimestampSettings::resolve(env)?;
        let name = env.get_non_empty(SIGNER)?;
        let backend = match name.as_deref().map(str::trim) {
            None | Some("local") => SignerBackend::Local(local_key(args, env)?),
            Some(other) => {
                refuse_local_key(args, env, other)?;
                if other == "trusted-signatures" && timestamps.is_some() {
                    return Err(ConfigError::new(
                        timestamps::URLS,
                        format!(
                            "set, but {SIGNER} is trusted-signatures, which returns the whole \
                             CMS: its time-stamps are the service's own tsaTimestamp option"
                        ),
                    ));
                }
                match other {
                    "trusted-signatures" => SignerBackend::TrustedSignatures(Box::new(
                        trusted_signatures::TrustedSignaturesSettings::resolve(env)?,
                    )),
                    "csc" => SignerBackend::Csc(csc::CscSettings::resolve(env)?),
                    "azure-key-vault" => {
                        SignerBackend::AzureKeyVault(key_vault::KeyVaultKeySettings::resolve(env)?)
                    }
                    _ => {
                        return Err(ConfigError::new(
                            SIGNER,
                            format!(
                                "unknown signer {other:?}: use local, trusted-signatures, csc or \
                                 azure-key-vault"
                            ),
                        ));
                    }
                }
            }
        };
        Ok(Self {
            backend,
            rsa_padding,
            timestamps,
        })
    }
}

/// The local key's flags make no sense with a remote backend: most likely the backend was
/// chosen by mistake, or the key is left over from another set-up.
fn refuse_local_key(
    args: &SignerArgs,
    env: &Environment,
    backend: &str,
) -> Result<(), ConfigError> {
    let flags = [
        (KEY, &args.signing_key),
        (CERTS, &args.signing_certs),
        (PKCS12, &args.pkcs12),
    ];
    for (variable, value) in flags {
        if non_empty(value).is_some() {
            return Err(ConfigError::new(
                variable,
                format!("set, but {SIGNER} is {backend}, which does not use a local key"),
            ));
        }
    }
    for variable in [KEY_PASSWORD, PKCS12_PASSWORD] {
        if env.get_non_empty(variable)?.is_some() {
            return Err(ConfigError::new(
                variable,
                format!("set, but {SIGNER} is {backend}, which does not use a local key"),
            ));
        }
    }
    Ok(())
}

/// The local key: PEM files, a PKCS#12 file, or the development credentials.
fn local_key(args: &SignerArgs, env: &Environment) -> Result<SigningKeySource, ConfigError> {
    {
        let key = non_empty(&args.signing_key);
        let certificates = non_empty(&args.signing_certs);
        let pkcs12 = non_empty(&args.pkcs12);
        let key_password = SecretSetting::read(env, KEY_PASSWORD)?;
        let pkcs12_password = SecretSetting::read(env, PKCS12_PASSWORD)?;

        let key = match (key, certificates, pkcs12) {
            (Some(_), _, Some(_)) => return Err(conflict(PKCS12, "a PEM key")),
            (None, Some(_), Some(_)) => return Err(conflict(CERTS, "a PKCS#12 file")),
            (Some(_), None, None) => return Err(required(CERTS, "the PEM key")),
            (None, Some(_), None) => return Err(required(KEY, "the certificate chain")),
            (Some(key), Some(certificates), None) => {
                refuse_stray_password(&pkcs12_password, PKCS12_PASSWORD, "no PKCS#12 file")?;
                SigningKeySource::Pem {
                    key,
                    certificates,
                    password: key_password,
                }
            }
            (None, None, Some(path)) => {
                refuse_stray_password(&key_password, KEY_PASSWORD, "no PEM key")?;
                SigningKeySource::Pkcs12 {
                    path,
                    password: pkcs12_password
                        .unwrap_or_else(|| SecretSetting::Value(Secret::new(""))),
                }
            }
            (None, None, None) => {
                refuse_stray_password(&key_password, KEY_PASSWORD, "no key")?;
                refuse_stray_password(&pkcs12_password, PKCS12_PASSWORD, "no PKCS#12 file")?;
                let state_dir = match non_empty(&args.state_dir) {
                    Some(dir) => dir,
                    None => default_state_dir(env)?,
                };
                SigningKeySource::Development { state_dir }
            }
        };
        Ok(key)
    }
}

/// The default state directory: `$HOME/data/pdf-seal` on Azure Functions (where `$HOME` is the
/// app's persistent share), else `$XDG_STATE_HOME/pdf-seal` (when absolute, as the XDG base
/// directory specification requires), else `$HOME/.local/state/pdf-seal`.
pub fn default_state_dir(env: &Environment) -> Result<PathBuf, ConfigError> {
    let home = env.get_non_empty("HOME")?.map(PathBuf::from);
    let xdg_state = env
        .get_non_empty("XDG_STATE_HOME")?
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute());

    match (home, xdg_state) {
        (Some(home), _) if env.is_set(FUNCTIONS_PORT_VARIABLE) => Ok(home.join("data/pdf-seal")),
        (_, Some(state)) => Ok(state.join("pdf-seal")),
        (Some(home), None) => Ok(home.join(".local/state/pdf-seal")),
        (None, None) => Err(ConfigError::new(
            STATE_DIR,
            "neither HOME nor XDG_STATE_HOME is set, so there is no default state directory: \
             set this one",
        )),
    }
}

fn non_empty(value: &Option<OsString>) -> Option<PathBuf> {
    value
        .as_ref()
        .filter(|v| !v.is_empty())
        .map(|v| Path::new(v).to_path_buf())
}

fn parse_rsa_padding(text: &str) -> Result<RsaPadding, ConfigError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "pkcs1v15" | "pkcs1" => Ok(RsaPadding::Pkcs1v15),
        "pss" => Ok(RsaPadding::Pss),
        _ => Err(ConfigError::new(
            RSA_PADDING,
            format!("expected pkcs1v15 or pss, found {text:?}"),
        )),
    }
}

fn conflict(variable: &str, other: &str) -> ConfigError {
    ConfigError::new(
        variable,
        format!("cannot be combined with {other}: configure one key"),
    )
}

fn required(variable: &str, with: &str) -> ConfigError {
    ConfigError::new(variable, format!("missing, and required with {with}"))
}

/// A password without its key usually means the key's variable is misspelt; going on would
/// silently seal with the development certificate.
fn refuse_stray_password(
    password: &Option<SecretSetting>,
    variable: &str,
    situation: &str,
) -> Result<(), ConfigError> {
    match password {
        Some(_) => Err(ConfigError::new(
            variable,
            format!("set, but {situation} is configured; check the name of the key's variable"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(pairs.iter().copied())
    }

    fn pem_args() -> SignerArgs {
        SignerArgs {
            signing_key: Some("key.pem".into()),
            signing_certs: Some("chain.pem".into()),
            ..SignerArgs::default()
        }
    }

    #[test]
    fn debug_output_hides_both_passwords() {
        let vars = [
            (KEY_PASSWORD, "pem-secret-1"),
            (PKCS12_PASSWORD, "p12-secret-2"),
        ];
        let pem = SignerSettings::resolve(&pem_args(), &env(&vars[..1])).unwrap();
        let pkcs12_args = SignerArgs {
            pkcs12: Some("seal.p12".into()),
            ..SignerArgs::default()
        };
        let pkcs12 = SignerSettings::resolve(&pkcs12_args, &env(&vars[1..])).unwrap();

        let shown = format!("{pem:?} {pkcs12:?} {pem:#?}");

        assert!(!shown.contains("pem-secret-1"), "{shown}");
        assert!(!shown.contains("p12-secret-2"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn time_stamp_authorities_serve_the_local_key_but_not_trusted_signatures() {
        let tsa = (timestamps::URLS, "http://tsa.test/");

        let local = SignerSettings::resolve(&pem_args(), &env(&[tsa])).unwrap();
        let refused = SignerSettings::resolve(
            &SignerArgs::default(),
            &env(&[tsa, (SIGNER, "trusted-signatures")]),
        )
        .unwrap_err()
        .to_string();

        let urls = local.timestamps.unwrap().urls;
        assert_eq!(urls[0].as_str(), "http://tsa.test/");
        assert!(
            refused.contains(timestamps::URLS) && refused.contains("tsaTimestamp"),
            "{refused}"
        );
    }

    #[test]
    fn a_pem_key_with_its_chain_and_password_is_used() {
        let settings = SignerSettings::resolve(&pem_args(), &env(&[(KEY_PASSWORD, "pw")]));

        let SignerBackend::Local(SigningKeySource::Pem { key, password, .. }) =
            settings.unwrap().backend
        else {
            panic!("expected a PEM key");
        };
        assert_eq!(key, Path::new("key.pem"));
        assert_eq!(password, Some(SecretSetting::Value(Secret::new("pw"))));
    }

    #[test]
    fn a_pkcs12_file_without_a_password_gets_an_empty_one() {
        let args = SignerArgs {
            pkcs12: Some("seal.p12".into()),
            ..SignerArgs::default()
        };

        let settings = SignerSettings::resolve(&args, &env(&[])).unwrap();

        let SignerBackend::Local(SigningKeySource::Pkcs12 { password, .. }) = settings.backend
        else {
            panic!("expected PKCS#12");
        };
        assert_eq!(password, SecretSetting::Value(Secret::new("")));
    }

    #[test]
    fn refuses_a_pem_key_without_its_chain() {
        let args = SignerArgs {
            signing_certs: None,
            ..pem_args()
        };

        let error = SignerSettings::resolve(&args, &env(&[])).unwrap_err();

        assert!(error.variable.contains("PDF_SEAL_SIGNING_CERTS"), "{error}");
    }

    #[test]
    fn refuses_a_pem_key_and_a_pkcs12_file_together() {
        let args = SignerArgs {
            pkcs12: Some("seal.p12".into()),
            ..pem_args()
        };

        let error = SignerSettings::resolve(&args, &env(&[])).unwrap_err();

        assert!(error.variable.contains("PDF_SEAL_PKCS12"), "{error}");
    }

    #[test]
    fn refuses_a_password_whose_key_is_not_configured() {
        let error = SignerSettings::resolve(
            &SignerArgs::default(),
            &env(&[("HOME", "/home/u"), (KEY_PASSWORD, "pw")]),
        );

        assert_eq!(error.unwrap_err().variable, KEY_PASSWORD);
    }

    #[test]
    fn refuses_an_unknown_rsa_padding_naming_the_variable() {
        let args = SignerArgs {
            rsa_padding: Some("oaep".into()),
            ..pem_args()
        };

        let error = SignerSettings::resolve(&args, &env(&[])).unwrap_err();

        assert!(error.variable.contains("PDF_SEAL_RSA_PADDING"), "{error}");
    }

    #[test]
    fn empty_values_count_as_unset() {
        let args = SignerArgs {
            signing_key: Some("".into()),
            rsa_padding: Some("".into()),
            state_dir: Some("/srv/state".into()),
            ..SignerArgs::default()
        };

        let settings = SignerSettings::resolve(&args, &env(&[])).unwrap();

        let expected = SigningKeySource::Development {
            state_dir: "/srv/state".into(),
        };
        assert_eq!(settings.backend, SignerBackend::Local(expected));
        assert_eq!(settings.rsa_padding, RsaPadding::Pkcs1v15);
    }

    #[test]
    fn the_state_dir_follows_xdg_then_home() {
        let xdg = env(&[("HOME", "/home/u"), ("XDG_STATE_HOME", "/xdg/state")]);
        let relative_xdg = env(&[("HOME", "/home/u"), ("XDG_STATE_HOME", "state")]);

        assert_eq!(
            default_state_dir(&xdg).unwrap(),
            Path::new("/xdg/state/pdf-seal")
        );
        assert_eq!(
            default_state_dir(&relative_xdg).unwrap(),
            Path::new("/home/u/.local/state/pdf-seal")
        );
    }

    #[test]
    fn the_state_dir_is_on_the_persistent_share_under_azure_functions() {
        let azure = env(&[
            ("HOME", "/home"),
            ("XDG_STATE_HOME", "/xdg/state"),
            (FUNCTIONS_PORT_VARIABLE, "40000"),
        ]);

        assert_eq!(
            default_state_dir(&azure).unwrap(),
            Path::new("/home/data/pdf-seal")
        );
    }

    #[test]
    fn without_home_the_state_dir_must_be_given() {
        let error = default_state_dir(&env(&[])).unwrap_err();

        assert!(error.variable.contains("PDF_SEAL_STATE_DIR"), "{error}");
    }
}
