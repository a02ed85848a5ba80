//! The claims of a token whose signature verified: is it for this API, from the tenant it
//! says, and does it carry the right to call?
//!
//! Entra ID access tokens (v1 and v2) carry `aud`, `iss`, `tid`, `ver`, the calling
//! application in `azp` (v2) or `appid` (v1), the user or service principal in `oid`, delegated
//! permissions in `scp` (space-separated) and app roles in `roles`. GUIDs are compared
//! without regard to case.

use serde::Deserialize;

use super::issuers;
use super::{EntraIdentity, TokenRejection};
use crate::config::entra::is_guid;
use crate::config::{AllowedClients, EntraSettings};

/// The claims judged here; jsonwebtoken has checked `exp` and `nbf` already. A claim of the
/// wrong type makes the whole token malformed.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Claims {
    pub aud: Option<Audience>,
    pub iss: Option<String>,
    pub tid: Option<String>,
    pub ver: Option<String>,
    pub azp: Option<String>,
    pub appid: Option<String>,
    pub oid: Option<String>,
    pub scp: Option<String>,
    pub roles: Option<Vec<String>>,
}

/// `aud`: one value, as Entra ID issues it, or several (RFC 7519 section 4.1.3).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Several(Vec<String>),
}

impl Audience {
    fn values(&self) -> &[String] {
        match self {
            Self::One(value) => std::slice::from_ref(value),
            Self::Several(values) => values,
        }
    }
}

/// Checks the audience and the issuer (401), then the rights (403): the tenant allow-list,
/// the calling application, and a scope or an app role.
pub fn check(
    claims: &Claims,
    settings: &EntraSettings,
    issuer_templates: &[String],
) -> Result<EntraIdentity, TokenRejection> {
    check_audience(claims, settings)?;
    let tenant = tenant_of(claims)?;
    check_issuer(claims, &tenant, issuer_templates)?;

    if !settings.allowed_tenants.contains(&tenant) {
        return Err(TokenRejection::forbidden(
            "tenant-not-allowed",
            format!(
                "tokens of the tenant {} are not accepted here",
                shown_id(&tenant)
            ),
        ));
    }
    let client_id = client_of(claims).map(str::to_ascii_lowercase);
    check_client(client_id.as_deref(), &settings.allowed_clients)?;
    check_rights(claims, settings)?;

    Ok(EntraIdentity {
        object_id: claims.oid.clone(),
        client_id,
        tenant_id: tenant,
    })
}

fn check_audience(claims: &Claims, settings: &EntraSettings) -> Result<(), TokenRejection> {
    let Some(audience) = &claims.aud else {
        return Err(missing("aud"));
    };
    let ours = audience.values().iter().any(|value| {
        settings
            .audiences
            .iter()
            .any(|expected| same_audience(expected, value))
    });
    if ours {
        Ok(())
    } else {
        Err(TokenRejection::invalid(
            "wrong-audience",
            "the token was issued for another API (its aud is not this API's application id \
             URI or client id)",
        ))
    }
}

/// An audience that is a GUID or `api://GUID` is compared without regard to case; any other
/// (`api://contoso.com/seal`) exactly.
fn same_audience(expected: &str, actual: &str) -> bool {
    let guid_form = is_guid(expected) || expected.strip_prefix("api://").is_some_and(is_guid);
    if guid_form {
        expected.eq_ignore_ascii_case(actual)
    } else {
        expected == actual
    }
}

/// `tid`, in lower case.
fn tenant_of(claims: &Claims) -> Result<String, TokenRejection> {
    match claims.tid.as_deref() {
        Some(tid) if !tid.is_empty() => Ok(tid.to_ascii_lowercase()),
        _ => Err(missing("tid")),
    }
}

fn check_issuer(claims: &Claims, tenant: &str, templates: &[String]) -> Result<(), TokenRejection> {
    let Some(issuer) = claims.iss.as_deref() else {
        return Err(missing("iss"));
    };
    if templates
        .iter()
        .any(|template| issuers::matches(template, issuer, tenant))
    {
        Ok(())
    } else {
        Err(TokenRejection::invalid(
            "wrong-issuer",
            "the token's issuer (iss) is not one this API accepts for the token's tenant (tid)",
        ))
    }
}

/// The calling application: `azp` in v2 tokens, `appid` in v1 tokens; by `ver`, else
/// whichever is present.
fn client_of(claims: &Claims) -> Option<&str> {
    let (azp, appid) = (claims.azp.as_deref(), claims.appid.as_deref());
    match claims.ver.as_deref() {
        Some("2.0") => azp.or(appid),
        Some("1.0") => appid.or(azp),
        _ => azp.or(appid),
    }
}

fn check_client(client_id: Option<&str>, allowed: &AllowedClients) -> Result<(), TokenRejection> {
    let AllowedClients::Only(ids) = allowed else {
        return Ok(());
    };
    match client_id {
        Some(id) if ids.iter().any(|allowed| allowed.eq_ignore_ascii_case(id)) => Ok(()),
        Some(id) => Err(TokenRejection::forbidden(
            "client-not-allowed",
            format!("the application {} may not call this API", shown_id(id)),
        )),
        None => Err(TokenRejection::forbidden(
            "client-not-allowed",
            "the token names no calling application (azp or appid)",
        )),
    }
}

/// One of the configured scopes in `scp`, or one of the configured roles in `roles`.
fn check_rights(claims: &Claims, settings: &EntraSettings) -> Result<(), TokenRejection> {
    let scopes = claims.scp.as_deref().unwrap_or_default();
    let has_scope = scopes
        .split(' ')
        .any(|scope| !scope.is_empty() && settings.scopes.iter().any(|wanted| wanted == scope));
    let roles = claims.roles.as_deref().unwrap_or_default();
    let has_role = roles.iter().any(|role| settings.roles.contains(role));
    if has_scope || has_role {
        return Ok(());
    }

    let mut wanted = Vec::new();
    if !settings.scopes.is_empty() {
        wanted.push(format!("the scope {}", settings.scopes.join(" or ")));
    }
    if !settings.roles.is_empty() {
        wanted.push(format!("the app role {}", settings.roles.join(" or ")));
    }
    Err(TokenRejection::Forbidden {
        reason: "missing-scope-or-role",
        detail: format!("the token lacks {}", wanted.join(", or ")),
        insufficient_scope: true,
    })
}

fn missing(claim: &str) -> TokenRejection {
    TokenRejection::invalid("missing-claim", format!("the token has no {claim} claim"))
}

/// A tenant or client id fit to repeat to the caller: a GUID as it is, anything else
/// described.
fn shown_id(id: &str) -> &str {
    if is_guid(id) {
        id
    } else {
        "named in the token"
    }
}

#[cfg(test)]
#[path = "claims/tests.rs"]
mod tests;
