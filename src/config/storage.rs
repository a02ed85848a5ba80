//! Where blob mode keeps its documents, job records and work queue (DESIGN.md section 5): a
//! local data directory, or an Azure Storage account.
//!
//! | variable | meaning |
//! |---|---|
//! | `PDF_SEAL_STORAGE` | `local` (the default) or `azure` |
//! | `PDF_SEAL_DATA_DIR` | `local` only: the data directory |
//! | `PDF_SEAL_STORAGE_ACCOUNT` | `azure`: the account name, in the public Azure cloud |
//! | `PDF_SEAL_BLOB_ENDPOINT` | `azure`: the Blob endpoint, instead of the account name |
//! | `PDF_SEAL_QUEUE_ENDPOINT` | `azure`: the Queue endpoint, with the one above |
//! | `PDF_SEAL_STORAGE_CREDENTIAL` | `managed-identity`, `workload-identity`, `azure-cli`, `sas` |
//! | `PDF_SEAL_STORAGE_SAS` | the shared access signature, for `sas` |
//! | `PDF_SEAL_MANAGED_IDENTITY_CLIENT_ID` | a user-assigned identity, for `managed-identity` |
//! | `PDF_SEAL_JOBS_CONTAINER` | the container of the job records |
//! | `PDF_SEAL_JOBS_QUEUE` | the queue of work items |

use std::net::IpAddr;
use std::path::PathBuf;

use url::{Host, Url};

use super::http::FUNCTIONS_PORT_VARIABLE;
use super::{ConfigError, Environment, Secret};

const STORAGE_VARIABLE: &str = "PDF_SEAL_STORAGE";
const DATA_DIR_VARIABLE: &str = "PDF_SEAL_DATA_DIR";
const ACCOUNT_VARIABLE: &str = "PDF_SEAL_STORAGE_ACCOUNT";
const BLOB_ENDPOINT_VARIABLE: &str = "PDF_SEAL_BLOB_ENDPOINT";
const QUEUE_ENDPOINT_VARIABLE: &str = "PDF_SEAL_QUEUE_ENDPOINT";
const CREDENTIAL_VARIABLE: &str = "PDF_SEAL_STORAGE_CREDENTIAL";
const SAS_VARIABLE: &str = "PDF_SEAL_STORAGE_SAS";
const CLIENT_ID_VARIABLE: &str = "PDF_SEAL_MANAGED_IDENTITY_CLIENT_ID";
const JOBS_CONTAINER_VARIABLE: &str = "PDF_SEAL_JOBS_CONTAINER";
const JOBS_QUEUE_VARIABLE: &str = "PDF_SEAL_JOBS_QUEUE";

/// The variables that only the Azure backend reads: setting one of them with the local backend
/// is a slip that should show.
const AZURE_ONLY: [&str; 8] = [
    ACCOUNT_VARIABLE,
    BLOB_ENDPOINT_VARIABLE,
    QUEUE_ENDPOINT_VARIABLE,
    CREDENTIAL_VARIABLE,
    SAS_VARIABLE,
    CLIENT_ID_VARIABLE,
    JOBS_CONTAINER_VARIABLE,
    JOBS_QUEUE_VARIABLE,
];

/// The default name of the jobs container and of the jobs queue.
pub const DEFAULT_JOBS_NAME: &str = "pdf-seal-jobs";

/// Which storage backend blob mode uses, and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageSettings {
    /// `PDF_SEAL_STORAGE=local`: a data directory and an in-process queue.
    Local(LocalStorageSettings),
    /// `PDF_SEAL_STORAGE=azure`: Azure Blob Storage and Azure Storage Queue.
    Azure(Box<AzureStorageSettings>),
}

/// Settings of the local backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalStorageSettings {
    /// `PDF_SEAL_DATA_DIR`: the data directory. By default `$HOME/data/pdf-seal-data` under
    /// Azure Functions (where `FUNCTIONS_CUSTOMHANDLER_PORT` is set, and `$HOME/data` is the
    /// app's persistent share), else `pdf-seal-data` in the working directory at start.
    pub data_dir: PathBuf,
}

/// Settings of the Azure backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureStorageSettings {
    /// The Blob service: `https://NAME.blob.core.windows.net` from `PDF_SEAL_STORAGE_ACCOUNT`, or
    /// `PDF_SEAL_BLOB_ENDPOINT` (sovereign clouds, private DNS names, Azurite). Never ends with a
    /// slash and has no query.
    pub blob_endpoint: Url,
    /// The Queue service, from the same account or `PDF_SEAL_QUEUE_ENDPOINT`.
    pub queue_endpoint: Url,
    /// `PDF_SEAL_STORAGE_CREDENTIAL` and what goes with it.
    pub credential: AzureCredential,
    /// `PDF_SEAL_JOBS_CONTAINER`: the container of the job records, `pdf-seal-jobs` by default.
    /// It is created at start when missing.
    pub jobs_container: String,
    /// `PDF_SEAL_JOBS_QUEUE`: the queue of work items, `pdf-seal-jobs` by default. It is created
    /// at start when missing.
    pub jobs_queue: String,
}

/// How the service proves its identity to the storage account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AzureCredential {
    /// `managed-identity`: the identity of the Function App (or VM, or container app); the
    /// system-assigned one, or the user-assigned one whose client id is
    /// `PDF_SEAL_MANAGED_IDENTITY_CLIENT_ID`. The default when no SAS is set.
    ManagedIdentity { client_id: Option<String> },
    /// `workload-identity`: a Kubernetes workload identity, configured by the variables that
    /// AKS sets (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE`).
    WorkloadIdentity,
    /// `azure-cli`: the account signed in to `az`, for development.
    AzureCli,
    /// `sas`: an account SAS (`PDF_SEAL_STORAGE_SAS`) valid for the Blob and Queue services. The
    /// default when `PDF_SEAL_STORAGE_SAS` is set.
    Sas(Secret),
}

impl AzureCredential {
    /// The value of `PDF_SEAL_STORAGE_CREDENTIAL` that selects this credential.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ManagedIdentity { .. } => "managed-identity",
            Self::WorkloadIdentity => "workload-identity",
            Self::AzureCli => "azure-cli",
            Self::Sas(_) => "sas",
        }
    }

    /// True for the credentials that send a bearer token, which the Azure SDK sends only over
    /// https.
    pub fn sends_tokens(&self) -> bool {
        !matches!(self, Self::Sas(_))
    }
}

impl StorageSettings {
    /// The container that holds the job records, on Azure; the local default keeps them
    /// outside its blobs.
    pub fn jobs_container(&self) -> Option<String> {
        match self {
            Self::Local(_) => None,
            Self::Azure(azure) => Some(azure.jobs_container.clone()),
        }
    }

    /// One line for the start-up log: the backend and where it is, never a secret.
    pub fn describe(&self) -> String {
        match self {
            Self::Local(local) => format!("local data directory {}", local.data_dir.display()),
            Self::Azure(azure) => format!(
                "Azure Storage {} and {} with {}",
                azure.blob_endpoint,
                azure.queue_endpoint,
                azure.credential.name()
            ),
        }
    }

    /// Reads the storage settings from the environment.
    pub fn resolve(env: &Environment) -> Result<Self, ConfigError> {
        let kind = env.get(STORAGE_VARIABLE)?;
        match kind.as_deref().map(str::trim) {
            None | Some("local") => resolve_local(env).map(Self::Local),
            Some("azure") => resolve_azure(env).map(|azure| Self::Azure(Box::new(azure))),
            Some(other) => Err(ConfigError::new(
                STORAGE_VARIABLE,
                format!("expected local or azure, found {other:?}"),
            )),
        }
    }
}

fn resolve_local(env: &Environment) -> Result<LocalStorageSettings, ConfigError> {
    if let Some(variable) = AZURE_ONLY.iter().find(|variable| env.is_set(variable)) {
        return Err(ConfigError::new(
            STORAGE_VARIABLE,
            format!("{variable} is set, but the storage is local; set {STORAGE_VARIABLE}=azure"),
        ));
    }

    let data_dir = match env.get(DATA_DIR_VARIABLE)? {
        Some(dir) if dir.trim().is_empty() => {
            return Err(ConfigError::new(DATA_DIR_VARIABLE, "the value is empty"));
        }
        Some(dir) => PathBuf::from(dir),
        None if env.is_set(FUNCTIONS_PORT_VARIABLE) => match env.get_non_empty("HOME")? {
            Some(home) => PathBuf::from(home).join("data").join("pdf-seal-data"),
            None => {
                return Err(ConfigError::new(
                    DATA_DIR_VARIABLE,
                    "not set, and HOME is not set either, so the Azure Functions default \
                     $HOME/data/pdf-seal-data cannot be used; set a directory",
                ));
            }
        },
        None => PathBuf::from("pdf-seal-data"),
    };
    Ok(LocalStorageSettings { data_dir })
}

fn resolve_azure(env: &Environment) -> Result<AzureStorageSettings, ConfigError> {
    if env.is_set(DATA_DIR_VARIABLE) {
        return Err(ConfigError::new(
            DATA_DIR_VARIABLE,
            format!("is set, but {STORAGE_VARIABLE} is azure, which keeps no data directory"),
        ));
    }

    let (blob_endpoint, queue_endpoint) = resolve_endpoints(env)?;
    let credential = resolve_credential(env)?;
    if credential.sends_tokens() {
        for (variable, endpoint) in [
            (BLOB_ENDPOINT_VARIABLE, &blob_endpoint),
            (QUEUE_ENDPOINT_VARIABLE, &queue_endpoint),
        ] {
            if endpoint.scheme() != "https" {
                return Err(ConfigError::new(
                    variable,
                    format!(
                        "{endpoint} uses http, but the {} credential sends bearer tokens, which \
                         the Azure SDK sends only over https; use an https endpoint, or a SAS in \
                         {SAS_VARIABLE}",
                        credential.name()
                    ),
                ));
            }
        }
    }

    Ok(AzureStorageSettings {
        blob_endpoint,
        queue_endpoint,
        credential,
        jobs_container: resolve_name(env, JOBS_CONTAINER_VARIABLE, "container")?,
        jobs_queue: resolve_name(env, JOBS_QUEUE_VARIABLE, "queue")?,
    })
}

/// The two endpoints, from the account name or given one by one.
fn resolve_endpoints(env: &Environment) -> Result<(Url, Url), ConfigError> {
    let account = env.get(ACCOUNT_VARIABLE)?;
    let blob = env.get(BLOB_ENDPOINT_VARIABLE)?;
    let queue = env.get(QUEUE_ENDPOINT_VARIABLE)?;

    match (account, blob, queue) {
        (Some(account), None, None) => {
            let account = account.trim();
            let valid = (3..=24).contains(&account.len())
                && account
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !valid {
                return Err(ConfigError::new(
                    ACCOUNT_VARIABLE,
                    format!(
                        "expected a storage account name of 3 to 24 lowercase letters and \
                         digits, found {account:?}"
                    ),
                ));
            }
            let endpoint = |service: &str| {
                Url::parse(&format!("https://{account}.{service}.core.windows.net"))
                    .map_err(|error| ConfigError::new(ACCOUNT_VARIABLE, error.to_string()))
            };
            Ok((endpoint("blob")?, endpoint("queue")?))
        }
        (Some(_), _, _) => Err(ConfigError::new(
            ACCOUNT_VARIABLE,
            format!(
                "set either the account name or {BLOB_ENDPOINT_VARIABLE} and \
                 {QUEUE_ENDPOINT_VARIABLE}, not both"
            ),
        )),
        (None, Some(blob), Some(queue)) => Ok((
            parse_endpoint(BLOB_ENDPOINT_VARIABLE, &blob)?,
            parse_endpoint(QUEUE_ENDPOINT_VARIABLE, &queue)?,
        )),
        (None, Some(_), None) => Err(ConfigError::new(
            QUEUE_ENDPOINT_VARIABLE,
            format!("not set, but {BLOB_ENDPOINT_VARIABLE} is; set both endpoints"),
        )),
        (None, None, Some(_)) => Err(ConfigError::new(
            BLOB_ENDPOINT_VARIABLE,
            format!("not set, but {QUEUE_ENDPOINT_VARIABLE} is; set both endpoints"),
        )),
        (None, None, None) => Err(ConfigError::new(
            ACCOUNT_VARIABLE,
            format!(
                "not set: the azure storage needs the account name, or \
                 {BLOB_ENDPOINT_VARIABLE} and {QUEUE_ENDPOINT_VARIABLE}"
            ),
        )),
    }
}

/// An endpoint URL: https, or http on a loopback host (Azurite); no credentials, query or
/// fragment in it; trailing slashes removed, since the SDK appends names to the path.
fn parse_endpoint(variable: &str, text: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: String| ConfigError::new(variable, reason);
    // The value is not echoed whole: a SAS pasted into it by mistake must not reach the logs.
    let mut url = Url::parse(text.trim())
        .map_err(|error| invalid(format!("not a URL ({error}); expected https://HOST[/PATH]")))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(format!(
            "has a query or fragment; put a SAS in {SAS_VARIABLE}, not in the endpoint"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("has a user name or password in it".to_owned()));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(url.host()) => {}
        "http" => {
            return Err(invalid(format!(
                "{url} uses http on a host that is not loopback; only https is accepted there"
            )));
        }
        other => {
            return Err(invalid(format!(
                "expected an https URL, found scheme {other:?}"
            )));
        }
    }

    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

fn is_loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn resolve_credential(env: &Environment) -> Result<AzureCredential, ConfigError> {
    let sas = match env.get(SAS_VARIABLE)? {
        Some(sas) => Some(parse_sas(&sas)?),
        None => None,
    };
    let client_id = match env.get(CLIENT_ID_VARIABLE)? {
        Some(id) => Some(parse_client_id(&id)?),
        None => None,
    };
    let chosen = env.get(CREDENTIAL_VARIABLE)?;
    let chosen = match chosen.as_deref().map(str::trim) {
        Some(name) => name.to_owned(),
        None if sas.is_some() => "sas".to_owned(),
        None => "managed-identity".to_owned(),
    };

    let credential = match (chosen.as_str(), sas) {
        ("sas", Some(sas)) => AzureCredential::Sas(sas),
        ("sas", None) => {
            return Err(ConfigError::new(
                SAS_VARIABLE,
                format!("not set, but {CREDENTIAL_VARIABLE} is sas"),
            ));
        }
        (name, Some(_))
            if ["managed-identity", "workload-identity", "azure-cli"].contains(&name) =>
        {
            return Err(ConfigError::new(
                SAS_VARIABLE,
                format!("is set, but {CREDENTIAL_VARIABLE} is {name}; unset one of them"),
            ));
        }
        ("managed-identity", None) => {
            return Ok(AzureCredential::ManagedIdentity { client_id });
        }
        ("workload-identity", None) => AzureCredential::WorkloadIdentity,
        ("azure-cli", None) => AzureCredential::AzureCli,
        (other, _) => {
            return Err(ConfigError::new(
                CREDENTIAL_VARIABLE,
                format!(
                    "expected managed-identity, workload-identity, azure-cli or sas, found \
                     {other:?}"
                ),
            ));
        }
    };
    if client_id.is_some() {
        return Err(ConfigError::new(
            CLIENT_ID_VARIABLE,
            format!(
                "is set, but the credential is {}, not managed-identity",
                credential.name()
            ),
        ));
    }
    Ok(credential)
}

/// A SAS as the portal gives it, with or without the leading `?`. Its value is never echoed.
fn parse_sas(text: &str) -> Result<Secret, ConfigError> {
    let sas = text.trim().trim_start_matches('?');
    let invalid = |reason: &str| ConfigError::new(SAS_VARIABLE, reason);
    if sas.is_empty() {
        return Err(invalid("the value is empty"));
    }
    if sas.starts_with("http://") || sas.starts_with("https://") {
        return Err(invalid(
            "holds a URL; give only the SAS token, the part after the '?'",
        ));
    }
    let url_safe = sas
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'#' | b'"' | b'<' | b'>' | b'\\'));
    if !url_safe {
        return Err(invalid(
            "holds characters that a SAS token never has (spaces, quotes, '#')",
        ));
    }
    let has_signature = url::form_urlencoded::parse(sas.as_bytes())
        .any(|(name, value)| name == "sig" && !value.is_empty());
    if !has_signature {
        return Err(invalid(
            "has no sig= parameter; expected a SAS token such as sv=...&ss=bq&...&sig=...",
        ));
    }
    Ok(Secret::new(sas))
}

/// A client id is a GUID.
fn parse_client_id(text: &str) -> Result<String, ConfigError> {
    let id = text.trim();
    let groups: Vec<&str> = id.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let hex = groups
        .iter()
        .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
    if lengths != [8, 4, 4, 4, 12] || !hex {
        return Err(ConfigError::new(
            CLIENT_ID_VARIABLE,
            format!(
                "expected the client id (a GUID such as 00000000-0000-0000-0000-000000000000) \
                 of a user-assigned identity, found {id:?}"
            ),
        ));
    }
    Ok(id.to_ascii_lowercase())
}

/// A container or queue name: Azure gives both the same rules, 3 to 63 lowercase letters,
/// digits and single hyphens, starting and ending with a letter or digit.
fn resolve_name(env: &Environment, variable: &str, kind: &str) -> Result<String, ConfigError> {
    let Some(name) = env.get(variable)? else {
        return Ok(DEFAULT_JOBS_NAME.to_owned());
    };
    let valid = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !valid {
        return Err(ConfigError::new(
            variable,
            format!(
                "expected a {kind} name of 3 to 63 lowercase letters, digits and single \
                 hyphens, starting and ending with a letter or digit, found {name:?}"
            ),
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAS: &str =
        "sv=2022-11-02&ss=bq&srt=sco&sp=rwdlacup&se=2030-01-01T00%3A00%3A00Z&sig=c2VjcmV0";

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(pairs.iter().copied())
    }

    fn azure(pairs: &[(&str, &str)]) -> Result<AzureStorageSettings, ConfigError> {
        let mut all = vec![(STORAGE_VARIABLE, "azure")];
        all.extend_from_slice(pairs);
        match StorageSettings::resolve(&env(&all))? {
            StorageSettings::Azure(settings) => Ok(*settings),
            StorageSettings::Local(local) => panic!("expected azure settings, got {local:?}"),
        }
    }

    fn local(pairs: &[(&str, &str)]) -> Result<LocalStorageSettings, ConfigError> {
        match StorageSettings::resolve(&env(pairs))? {
            StorageSettings::Local(settings) => Ok(settings),
            StorageSettings::Azure(azure) => panic!("expected local settings, got {azure:?}"),
        }
    }

    #[test]
    fn defaults_to_local_storage_in_the_working_directory() {
        let settings = local(&[]).unwrap();

        assert_eq!(settings.data_dir, PathBuf::from("pdf-seal-data"));
    }

    #[test]
    fn under_azure_functions_the_data_dir_is_under_home_data() {
        let settings = local(&[(FUNCTIONS_PORT_VARIABLE, "40000"), ("HOME", "/home")]).unwrap();

        assert_eq!(settings.data_dir, PathBuf::from("/home/data/pdf-seal-data"));
    }

    #[test]
    fn an_explicit_data_dir_wins_and_an_empty_one_is_refused() {
        let settings = local(&[
            (FUNCTIONS_PORT_VARIABLE, "1"),
            (DATA_DIR_VARIABLE, "/srv/d"),
        ]);
        assert_eq!(settings.unwrap().data_dir, PathBuf::from("/srv/d"));

        let error = local(&[(DATA_DIR_VARIABLE, " ")]).unwrap_err();
        assert_eq!(error.variable, DATA_DIR_VARIABLE);
    }

    #[test]
    fn refuses_an_unknown_storage_kind() {
        let error = StorageSettings::resolve(&env(&[(STORAGE_VARIABLE, "s3")])).unwrap_err();

        assert_eq!(error.variable, STORAGE_VARIABLE);
        assert!(error.reason.contains("\"s3\""), "{error}");
    }

    #[test]
    fn azure_variables_with_local_storage_are_a_slip_that_shows() {
        let error = local(&[(ACCOUNT_VARIABLE, "contoso")]).unwrap_err();

        assert_eq!(error.variable, STORAGE_VARIABLE);
        assert!(error.reason.contains(ACCOUNT_VARIABLE), "{error}");
    }

    #[test]
    fn an_account_name_gives_the_public_cloud_endpoints_and_managed_identity() {
        let settings = azure(&[(ACCOUNT_VARIABLE, "contoso42")]).unwrap();

        assert_eq!(
            settings.blob_endpoint.as_str(),
            "https://contoso42.blob.core.windows.net/"
        );
        assert_eq!(
            settings.queue_endpoint.as_str(),
            "https://contoso42.queue.core.windows.net/"
        );
        assert_eq!(
            settings.credential,
            AzureCredential::ManagedIdentity { client_id: None }
        );
        assert_eq!(settings.jobs_container, "pdf-seal-jobs");
        assert_eq!(settings.jobs_queue, "pdf-seal-jobs");
    }

    #[test]
    fn refuses_account_names_azure_would_refuse() {
        for bad in ["ab", "Contoso", "contoso-x", &"a".repeat(25), ""] {
            let error = azure(&[(ACCOUNT_VARIABLE, bad)]).unwrap_err();

            assert_eq!(error.variable, ACCOUNT_VARIABLE, "{bad:?}");
        }
    }

    #[test]
    fn explicit_endpoints_lose_their_trailing_slashes() {
        let settings = azure(&[
            (
                BLOB_ENDPOINT_VARIABLE,
                "http://127.0.0.1:10000/devstoreaccount1//",
            ),
            (QUEUE_ENDPOINT_VARIABLE, "https://q.example.test/"),
            (SAS_VARIABLE, SAS),
        ])
        .unwrap();

        assert_eq!(
            settings.blob_endpoint.as_str(),
            "http://127.0.0.1:10000/devstoreaccount1"
        );
        assert_eq!(settings.queue_endpoint.as_str(), "https://q.example.test/");
    }

    #[test]
    fn endpoints_come_in_pairs_and_not_with_an_account_name() {
        let blob = (BLOB_ENDPOINT_VARIABLE, "https://b.example.test");
        let queue = (QUEUE_ENDPOINT_VARIABLE, "https://q.example.test");

        assert_eq!(
            azure(&[blob]).unwrap_err().variable,
            QUEUE_ENDPOINT_VARIABLE
        );
        assert_eq!(
            azure(&[queue]).unwrap_err().variable,
            BLOB_ENDPOINT_VARIABLE
        );
        let both = azure(&[(ACCOUNT_VARIABLE, "contoso"), blob, queue]);
        assert_eq!(both.unwrap_err().variable, ACCOUNT_VARIABLE);
        assert_eq!(azure(&[]).unwrap_err().variable, ACCOUNT_VARIABLE);
    }

    #[test]
    fn http_is_accepted_only_on_loopback() {
        let queue = (QUEUE_ENDPOINT_VARIABLE, "https://q.example.test");
        let sas = (SAS_VARIABLE, SAS);
        for ok in [
            "http://127.0.0.1:10000/a",
            "http://[::1]:1/a",
            "http://localhost:1",
        ] {
            assert!(
                azure(&[(BLOB_ENDPOINT_VARIABLE, ok), queue, sas]).is_ok(),
                "{ok}"
            );
        }

        for bad in [
            "http://10.0.0.4:10000/a",
            "http://b.example.test",
            "ftp://127.0.0.1/a",
            "b.example.test",
        ] {
            let error = azure(&[(BLOB_ENDPOINT_VARIABLE, bad), queue, sas]).unwrap_err();

            assert_eq!(error.variable, BLOB_ENDPOINT_VARIABLE, "{bad}");
        }
    }

    #[test]
    fn a_sas_in_an_endpoint_is_refused_without_being_echoed() {
        let error = azure(&[
            (
                BLOB_ENDPOINT_VARIABLE,
                "https://b.example.test/?sig=TOPSECRET",
            ),
            (QUEUE_ENDPOINT_VARIABLE, "https://q.example.test"),
        ])
        .unwrap_err();

        assert_eq!(error.variable, BLOB_ENDPOINT_VARIABLE);
        assert!(error.reason.contains(SAS_VARIABLE), "{error}");
        assert!(!error.to_string().contains("TOPSECRET"), "{error}");
    }

    #[test]
    fn token_credentials_need_https_and_say_why() {
        let error = azure(&[
            (
                BLOB_ENDPOINT_VARIABLE,
                "http://127.0.0.1:10000/devstoreaccount1",
            ),
            (
                QUEUE_ENDPOINT_VARIABLE,
                "http://127.0.0.1:10001/devstoreaccount1",
            ),
            (CREDENTIAL_VARIABLE, "azure-cli"),
        ])
        .unwrap_err();

        assert_eq!(error.variable, BLOB_ENDPOINT_VARIABLE);
        assert!(error.reason.contains("only over https"), "{error}");
        assert!(error.reason.contains("azure-cli"), "{error}");
    }

    #[test]
    fn a_sas_makes_sas_the_default_credential_and_stays_hidden() {
        let settings = azure(&[
            (ACCOUNT_VARIABLE, "contoso"),
            (SAS_VARIABLE, &format!("?{SAS}")),
        ])
        .unwrap();

        assert_eq!(settings.credential, AzureCredential::Sas(Secret::new(SAS)));
        let shown = format!("{:?}", StorageSettings::Azure(Box::new(settings)));
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
    }

    #[test]
    fn refuses_a_sas_without_a_signature_or_with_a_url_without_echoing_it() {
        for bad in [
            "sv=2022-11-02&ss=bq",
            "",
            "https://contoso.blob.core.windows.net/?sig=c2VjcmV0",
            "sv=1&sig=c2VjcmV0 x",
        ] {
            let error = azure(&[(ACCOUNT_VARIABLE, "contoso"), (SAS_VARIABLE, bad)]).unwrap_err();

            assert_eq!(error.variable, SAS_VARIABLE, "{bad:?}");
            assert!(!error.to_string().contains("c2VjcmV0"), "{error}");
        }
    }

    #[test]
    fn the_credential_and_the_sas_must_agree() {
        let account = (ACCOUNT_VARIABLE, "contoso");

        let missing = azure(&[account, (CREDENTIAL_VARIABLE, "sas")]).unwrap_err();
        assert_eq!(missing.variable, SAS_VARIABLE);

        let both = azure(&[
            account,
            (CREDENTIAL_VARIABLE, "managed-identity"),
            (SAS_VARIABLE, SAS),
        ]);
        assert_eq!(both.unwrap_err().variable, SAS_VARIABLE);

        let unknown = azure(&[account, (CREDENTIAL_VARIABLE, "password")]).unwrap_err();
        assert_eq!(unknown.variable, CREDENTIAL_VARIABLE);

        for (name, expected) in [
            ("workload-identity", AzureCredential::WorkloadIdentity),
            ("azure-cli", AzureCredential::AzureCli),
        ] {
            let settings = azure(&[account, (CREDENTIAL_VARIABLE, name)]).unwrap();
            assert_eq!(settings.credential, expected);
        }
    }

    #[test]
    fn a_user_assigned_identity_is_named_by_its_client_id() {
        let id = "0B6E9F4A-1111-2222-3333-444455556666";
        let settings = azure(&[(ACCOUNT_VARIABLE, "contoso"), (CLIENT_ID_VARIABLE, id)]).unwrap();
        assert_eq!(
            settings.credential,
            AzureCredential::ManagedIdentity {
                client_id: Some(id.to_ascii_lowercase())
            }
        );

        let bad = azure(&[
            (ACCOUNT_VARIABLE, "contoso"),
            (CLIENT_ID_VARIABLE, "my-app"),
        ]);
        assert_eq!(bad.unwrap_err().variable, CLIENT_ID_VARIABLE);

        let other = azure(&[
            (ACCOUNT_VARIABLE, "contoso"),
            (CLIENT_ID_VARIABLE, id),
            (CREDENTIAL_VARIABLE, "azure-cli"),
        ]);
        assert_eq!(other.unwrap_err().variable, CLIENT_ID_VARIABLE);
    }

    #[test]
    fn jobs_container_and_queue_follow_azure_naming_rules() {
        let account = (ACCOUNT_VARIABLE, "contoso");
        let settings = azure(&[
            account,
            (JOBS_CONTAINER_VARIABLE, "seal-jobs-2"),
            (JOBS_QUEUE_VARIABLE, "q01"),
        ])
        .unwrap();
        assert_eq!(settings.jobs_container, "seal-jobs-2");
        assert_eq!(settings.jobs_queue, "q01");

        for bad in ["Jobs", "a", "-jobs", "jobs-", "jo--bs", "jobs_1", ""] {
            let container = azure(&[account, (JOBS_CONTAINER_VARIABLE, bad)]).unwrap_err();
            assert_eq!(container.variable, JOBS_CONTAINER_VARIABLE, "{bad:?}");
            let queue = azure(&[account, (JOBS_QUEUE_VARIABLE, bad)]).unwrap_err();
            assert_eq!(queue.variable, JOBS_QUEUE_VARIABLE, "{bad:?}");
        }
    }

    #[test]
    fn a_data_dir_with_azure_storage_is_refused() {
        let error = azure(&[(ACCOUNT_VARIABLE, "contoso"), (DATA_DIR_VARIABLE, "/d")]).unwrap_err();

        assert_eq!(error.variable, DATA_DIR_VARIABLE);
    }
}
