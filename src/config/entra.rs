//! Settings of Entra ID (Azure AD) access tokens: whose tokens, for which API, from which
//! applications, with which permission.

use std::time::Duration;

use url::Url;

use super::limits::read_number;
use super::service_url::{Query, parse_service_url};
use super::{ConfigError, Environment};

pub const TENANT_ID_VARIABLE: &str = "PDF_SEAL_ENTRA_TENANT_ID";
pub const ALLOWED_TENANTS_VARIABLE: &str = "PDF_SEAL_ENTRA_ALLOWED_TENANTS";
pub const AUDIENCE_VARIABLE: &str = "PDF_SEAL_ENTRA_AUDIENCE";
pub const ALLOWED_CLIENTS_VARIABLE: &str = "PDF_SEAL_ENTRA_ALLOWED_CLIENTS";
pub const SCOPES_VARIABLE: &str = "PDF_SEAL_ENTRA_SCOPES";
pub const ROLES_VARIABLE: &str = "PDF_SEAL_ENTRA_ROLES";
pub const METADATA_URL_VARIABLE: &str = "PDF_SEAL_ENTRA_METADATA_URL";
pub const ISSUERS_VARIABLE: &str = "PDF_SEAL_ENTRA_ISSUERS";
pub const CLOCK_SKEW_VARIABLE: &str = "PDF_SEAL_ENTRA_CLOCK_SKEW_SECS";
pub const KEYS_MIN_REFRESH_VARIABLE: &str = "PDF_SEAL_ENTRA_KEYS_MIN_REFRESH_SECS";

/// The placeholder for the token's tenant in issuer templates, as Entra's multi-tenant
/// metadata spells it.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// The scope a delegated token must carry unless `PDF_SEAL_ENTRA_SCOPES` says otherwise: the
/// name the Azure portal suggests when an API exposes its first scope.
pub const DEFAULT_SCOPE: &str = "user_impersonation";

/// The issuer of Entra ID v1 tokens in the public cloud.
pub const V1_ISSUER_TEMPLATE: &str = "https://sts.windows.net/{tenantid}/";

/// Seconds of clock difference tolerated on `exp` and `nbf` by default.
pub const DEFAULT_CLOCK_SKEW_SECS: u64 = 60;

/// The least time between two fetches of the signing keys caused by tokens with an unknown
/// `kid`, by default.
pub const DEFAULT_KEYS_MIN_REFRESH_SECS: u64 = 300;

/// The applications allowed to call, by client id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowedClients {
    /// `*`: any application of an allowed tenant that holds the scope or role.
    Any,
    /// These client ids only (compared without regard to case).
    Only(Vec<String>),
}

/// What a valid Entra ID access token for this API looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntraSettings {
    /// `PDF_SEAL_ENTRA_TENANT_ID`: the tenant (directory) id of the organisation, a GUID.
    /// Required.
    pub tenant_id: String,
    /// The tenants whose tokens are accepted: the tenant above and those listed in
    /// `PDF_SEAL_ENTRA_ALLOWED_TENANTS` (GUIDs separated by commas; default none), in lower
    /// case.
    pub allowed_tenants: Vec<String>,
    /// `PDF_SEAL_ENTRA_AUDIENCE`: the API's application id URI (`api://...`) or client id,
    /// separated by commas when there are several. Required. A client id GUID also admits
    /// `api://GUID` and the other way round, since v1 tokens carry the URI and v2 tokens
    /// the client id.
    pub audiences: Vec<String>,
    /// `PDF_SEAL_ENTRA_ALLOWED_CLIENTS`: the client ids of the applications allowed to call
    /// (the connector's client app), matched against `azp` (v2) or `appid` (v1); `*` admits
    /// any. Required, so that no application is admitted by oversight.
    pub allowed_clients: AllowedClients,
    /// `PDF_SEAL_ENTRA_SCOPES`: delegated permissions, one of which a user's token must hold
    /// in `scp` (default `user_impersonation`; empty admits no delegated token).
    pub scopes: Vec<String>,
    /// `PDF_SEAL_ENTRA_ROLES`: app roles, one of which an application's token must hold in
    /// `roles` (default none, so tokens without a user are refused).
    pub roles: Vec<String>,
    /// `PDF_SEAL_ENTRA_METADATA_URL`: the OpenID configuration document, for other clouds and
    /// for tests. Default:
    /// `https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration`.
    /// Plain `http` is accepted only for a loopback host.
    pub metadata_url: Url,
    /// `PDF_SEAL_ENTRA_ISSUERS`: issuer templates separated by commas, `{tenantid}` standing
    /// for the token's `tid`. Default: the metadata's `issuer` (with the tenant id made a
    /// placeholder) and `https://sts.windows.net/{tenantid}/` for v1 tokens.
    pub issuers: Option<Vec<String>>,
    /// `PDF_SEAL_ENTRA_CLOCK_SKEW_SECS`: leeway on `exp` and `nbf` (0 to 300, default 60).
    pub clock_skew: Duration,
    /// `PDF_SEAL_ENTRA_KEYS_MIN_REFRESH_SECS`: the least time between fetches of the signing
    /// keys caused by an unknown `kid` (1 to 86400, default 300).
    pub keys_min_refresh: Duration,
}

impl EntraSettings {
    /// Reads the settings; the tenant, the audience and the allowed clients are required.
    pub fn resolve(env: &Environment) -> Result<Self, ConfigError> {
        let tenant_id = match env.get_non_empty(TENANT_ID_VARIABLE)? {
            Some(text) => parse_guid(&text, TENANT_ID_VARIABLE)?,
            None => {
                return Err(required(
                    TENANT_ID_VARIABLE,
                    "the tenant (directory) id, a GUID",
                ));
            }
        };
        let mut allowed_tenants = vec![tenant_id.clone()];
        for tenant in list(env, ALLOWED_TENANTS_VARIABLE)?.unwrap_or_default() {
            let tenant = parse_guid(&tenant, ALLOWED_TENANTS_VARIABLE)?;
            if !allowed_tenants.contains(&tenant) {
                allowed_tenants.push(tenant);
            }
        }

        let audiences = match list(env, AUDIENCE_VARIABLE)? {
            Some(values) if values.iter().any(|value| value.contains('*')) => {
                return Err(ConfigError::new(
                    AUDIENCE_VARIABLE,
                    "an audience is compared as it is written, and * is no wildcard: name the \
                     API's application id URI or client id",
                ));
            }
            Some(values) if !values.is_empty() => expand_audiences(values),
            _ => {
                return Err(required(
                    AUDIENCE_VARIABLE,
                    "the API's application id URI (api://...) or its client id",
                ));
            }
        };
        let allowed_clients = match list(env, ALLOWED_CLIENTS_VARIABLE)? {
            Some(values) if values == ["*"] => AllowedClients::Any,
            Some(values) if !values.is_empty() => {
                let ids = values
                    .iter()
                    .map(|value| parse_guid(value, ALLOWED_CLIENTS_VARIABLE))
                    .collect::<Result<_, _>>()?;
                AllowedClients::Only(ids)
            }
            _ => {
                return Err(required(
                    ALLOWED_CLIENTS_VARIABLE,
                    "the client id of the connector's app registration (or * for any \
                     application that holds the scope or role)",
                ));
            }
        };

        let scopes = list(env, SCOPES_VARIABLE)?.unwrap_or_else(|| vec![DEFAULT_SCOPE.to_owned()]);
        let roles = list(env, ROLES_VARIABLE)?.unwrap_or_default();
        if scopes.is_empty() && roles.is_empty() {
            return Err(ConfigError::new(
                SCOPES_VARIABLE,
                "both PDF_SEAL_ENTRA_SCOPES and PDF_SEAL_ENTRA_ROLES are empty, so no token \
                 could be admitted; name the scope or the app role that grants sealing",
            ));
        }

        let metadata_url = match env.get_non_empty(METADATA_URL_VARIABLE)? {
            Some(text) => parse_metadata_url(&text)?,
            None => default_metadata_url(&tenant_id),
        };
        let issuers = list(env, ISSUERS_VARIABLE)?.filter(|issuers| !issuers.is_empty());
        let clock_skew = read_number(env, CLOCK_SKEW_VARIABLE, 0..=300, "seconds")?
            .unwrap_or(DEFAULT_CLOCK_SKEW_SECS);
        let keys_min_refresh = read_number(env, KEYS_MIN_REFRESH_VARIABLE, 1..=86_400, "seconds")?
            .unwrap_or(DEFAULT_KEYS_MIN_REFRESH_SECS);

        Ok(Self {
            tenant_id,
            allowed_tenants,
            audiences,
            allowed_clients,
            scopes,
            roles,
            metadata_url,
            issuers,
            clock_skew: Duration::from_secs(clock_skew),
            keys_min_refresh: Duration::from_secs(keys_min_refresh),
        })
    }
}

fn required(variable: &str, what: &str) -> ConfigError {
    ConfigError::new(
        variable,
        format!("PDF_SEAL_AUTH uses entra-id, so this must be set to {what}"),
    )
}

/// A comma-separated list without blank entries, or `None` when the variable is unset.
fn list(env: &Environment, variable: &str) -> Result<Option<Vec<String>>, ConfigError> {
    Ok(env.get(variable)?.map(|text| {
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    }))
}

/// A GUID in the 8-4-4-4-12 form, in lower case.
pub fn parse_guid(text: &str, variable: &str) -> Result<String, ConfigError> {
    let text = text.trim();
    if !is_guid(text) {
        return Err(ConfigError::new(
            variable,
            format!("expected a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47, found {text:?}"),
        ));
    }
    Ok(text.to_ascii_lowercase())
}

/// True when `text` is a GUID in the 8-4-4-4-12 form, in either case.
pub fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
    let hex = groups
        .iter()
        .all(|group| group.chars().all(|c| c.is_ascii_hexdigit()));
    lengths == [8, 4, 4, 4, 12] && hex
}

/// The audiences as given, plus `api://GUID` for a client id and the GUID for `api://GUID`.
fn expand_audiences(values: Vec<String>) -> Vec<String> {
    let mut audiences = Vec::new();
    let mut push = |value: String| {
        if !audiences.contains(&value) {
            audiences.push(value);
        }
    };
    for value in values {
        if let Ok(guid) = parse_guid(&value, AUDIENCE_VARIABLE) {
            push(guid.clone());
            push(format!("api://{guid}"));
        } else if let Some(Ok(guid)) = value
            .strip_prefix("api://")
            .map(|rest| parse_guid(rest, AUDIENCE_VARIABLE))
        {
            push(value.clone());
            push(guid);
        } else {
            push(value);
        }
    }
    audiences
}

fn default_metadata_url(tenant_id: &str) -> Url {
    let text = format!(
        "https://login.microsoftonline.com/{tenant_id}/v2.0/.well-known/openid-configuration"
    );
    Url::parse(&text).expect("a GUID makes a valid URL")
}

/// An `https` URL, or `http` to a loopback host (tests, a local provider); a query is allowed
/// (Entra's app-specific keys are asked for with `?appid=`).
fn parse_metadata_url(text: &str) -> Result<Url, ConfigError> {
    parse_service_url(
        METADATA_URL_VARIABLE,
        text,
        "the https URL of an OpenID configuration",
        Query::Allowed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "11111111-2222-3333-4444-555555555555";
    const CLIENT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    const API: &str = "99999999-8888-7777-6666-555555555555";

    fn resolve(extra: &[(&str, &str)]) -> Result<EntraSettings, ConfigError> {
        let mut pairs = vec![
            (TENANT_ID_VARIABLE, TENANT),
            (AUDIENCE_VARIABLE, API),
            (ALLOWED_CLIENTS_VARIABLE, CLIENT),
        ];
        pairs.retain(|(name, _)| !extra.iter().any(|(other, _)| other == name));
        pairs.extend_from_slice(extra);
        EntraSettings::resolve(&Environment::from_pairs(pairs))
    }

    #[test]
    fn defaults_follow_the_public_cloud() {
        let settings = resolve(&[]).unwrap();

        assert_eq!(settings.allowed_tenants, [TENANT]);
        assert_eq!(settings.audiences, [API.to_owned(), format!("api://{API}")]);
        assert_eq!(
            settings.allowed_clients,
            AllowedClients::Only(vec![CLIENT.to_owned()])
        );
        assert_eq!(settings.scopes, [DEFAULT_SCOPE]);
        assert!(settings.roles.is_empty());
        assert_eq!(
            settings.metadata_url.as_str(),
            format!(
                "https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration"
            )
        );
        assert_eq!(settings.clock_skew, Duration::from_secs(60));
        assert_eq!(settings.keys_min_refresh, Duration::from_secs(300));
    }

    #[test]
    fn an_api_uri_audience_also_admits_its_client_id() {
        let uri = format!("api://{API}");
        let settings = resolve(&[(AUDIENCE_VARIABLE, &uri)]).unwrap();
        assert_eq!(settings.audiences, [uri.clone(), API.to_owned()]);

        let named = resolve(&[(AUDIENCE_VARIABLE, "api://contoso.com/seal")]).unwrap();
        assert_eq!(named.audiences, ["api://contoso.com/seal"]);
    }

    #[test]
    fn several_tenants_only_when_listed() {
        let other = "66666666-7777-8888-9999-000000000000";
        let listed = format!("{other}, {}", TENANT.to_uppercase());

        let settings = resolve(&[(ALLOWED_TENANTS_VARIABLE, &listed)]).unwrap();

        assert_eq!(settings.allowed_tenants, [TENANT, other]);
    }

    #[test]
    fn a_star_admits_any_client() {
        let settings = resolve(&[(ALLOWED_CLIENTS_VARIABLE, "*")]).unwrap();

        assert_eq!(settings.allowed_clients, AllowedClients::Any);
    }

    #[test]
    fn missing_required_settings_are_named() {
        for variable in [
            TENANT_ID_VARIABLE,
            AUDIENCE_VARIABLE,
            ALLOWED_CLIENTS_VARIABLE,
        ] {
            let error = resolve(&[(variable, "")]).unwrap_err();
            assert_eq!(error.variable, variable);
        }
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (variable, value) in [
            (TENANT_ID_VARIABLE, "contoso.onmicrosoft.com"),
            (TENANT_ID_VARIABLE, "common"),
            (ALLOWED_TENANTS_VARIABLE, "organizations"),
            (ALLOWED_CLIENTS_VARIABLE, "connector"),
            (
                METADATA_URL_VARIABLE,
                "http://login.example.com/.well-known/x",
            ),
            (METADATA_URL_VARIABLE, "ftp://127.0.0.1/x"),
            (METADATA_URL_VARIABLE, "https://user:pw@login.example.com/x"),
            (AUDIENCE_VARIABLE, "*"),
            (CLOCK_SKEW_VARIABLE, "3600"),
            (KEYS_MIN_REFRESH_VARIABLE, "0"),
        ] {
            let error = resolve(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable, "{value}");
        }
    }

    #[test]
    fn no_scope_and_no_role_is_refused() {
        let error = resolve(&[(SCOPES_VARIABLE, "")]).unwrap_err();
        assert_eq!(error.variable, SCOPES_VARIABLE);

        let roles_only = resolve(&[(SCOPES_VARIABLE, ""), (ROLES_VARIABLE, "Seal.All")]).unwrap();
        assert!(roles_only.scopes.is_empty());
        assert_eq!(roles_only.roles, ["Seal.All"]);
    }

    #[test]
    fn plain_http_metadata_is_accepted_on_loopback() {
        let url = "http://127.0.0.1:8080/tenant/v2.0/.well-known/openid-configuration";

        let settings = resolve(&[(METADATA_URL_VARIABLE, url)]).unwrap();

        assert_eq!(settings.metadata_url.as_str(), url);
    }
}
