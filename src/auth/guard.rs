//! The middleware that admits or refuses each request before any handler reads its body.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _, web};

use super::credentials::{bearer_token, function_key};
use super::denial::{Denial, MISSING_CREDENTIALS};
use super::{Auth, Caller, UNAUTHENTICATED_PATH};
use crate::api::AppState;
use crate::api::request_log::loggable;
use crate::config::AuthMethod;

/// Checks the client address against the allow-list (every path), then the credentials the
/// policy asks for (every path but `/api/health`, which is answered either way). An admitted
/// request carries its [`super::client_address::ClientAddress`] and [`Caller`] in its
/// extensions for the request log; a refused one is answered here with problem+json, and an
/// `ip.denied` or `auth.denied` event is logged at info with the client address and the reason
/// (`auth.reason`).
pub async fn check(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let Some(state) = request.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(request).await?.map_into_left_body());
    };
    let auth = &state.auth;

    let address = auth
        .network
        .client_address(request.peer_addr(), request.headers());
    request.extensions_mut().insert(address);
    if !auth.network.allows(&address) {
        let denial = match address.client {
            Some(client) => Denial::address(
                "address-not-allowed",
                format!("requests from {client} are not allowed"),
            ),
            None => Denial::address(
                "unreadable-forwarded-for",
                "the client address cannot be told: a trusted proxy sent an X-Forwarded-For \
                 entry that is not an IP address, or too many entries",
            ),
        };
        tracing::info!(
            auth.reason = denial.reason(),
            client.address = address.client.map(|client| client.to_string()),
            client.peer = address.peer.map(|peer| peer.to_string()),
            http.path = &*loggable(request.path()),
            "ip.denied"
        );
        return Ok(refuse(request, denial, auth));
    }

    if auth.policy.is_none() {
        return Ok(next.call(request).await?.map_into_left_body());
    }
    let admitted = authenticate(auth, &request).await;
    if let Err(denial) = &admitted
        && !(request.path() == UNAUTHENTICATED_PATH && denial.reason() == MISSING_CREDENTIALS)
    {
        tracing::info!(
            auth.reason = denial.reason(),
            problem.r#type = denial.problem().uri(),
            client.address = address.client.map(|client| client.to_string()),
            http.path = &*loggable(request.path()),
            "auth.denied"
        );
    }
    match admitted {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            Ok(next.call(request).await?.map_into_left_body())
        }
        // Health needs no credential: a probe sends none, and a refused one only keeps the
        // answer to what anyone may see (see `Auth::trusts`).
        Err(_) if request.path() == UNAUTHENTICATED_PATH => {
            Ok(next.call(request).await?.map_into_left_body())
        }
        Err(denial) => Ok(refuse(request, denial, auth)),
    }
}

fn refuse<B>(
    request: ServiceRequest,
    denial: Denial,
    auth: &Auth,
) -> ServiceResponse<EitherBody<B>> {
    let error = denial.into_api_error(&auth.policy);
    let (request, _payload) = request.into_parts();
    ServiceResponse::from_err(error, request).map_into_right_body()
}

/// What one method found: the parts of the caller it proves, or why not.
type Finding = Result<Caller, Denial>;

/// Tries the policy's alternatives in turn; the first whose methods all pass admits the
/// request. Each method is checked at most once. When none passes, the most telling denial
/// is answered (see [`Denial::rank`]).
async fn authenticate(auth: &Auth, request: &ServiceRequest) -> Result<Caller, Denial> {
    // Only the credentials the policy takes are read: to a policy of function keys alone, an
    // `Authorization` header (a browser's, a proxy's) is no credential, so not a bad one.
    let token = if auth.policy.uses(AuthMethod::EntraId) {
        bearer_token(request.headers())
    } else {
        Ok(None)
    };
    let key = if auth.policy.uses(AuthMethod::FunctionKey) {
        function_key(request.headers(), request.query_string())
    } else {
        Ok(None)
    };
    let no_credential = matches!(token, Ok(None)) && matches!(key, Ok(None));
    if no_credential {
        return Err(Denial::missing(&auth.policy));
    }

    let mut findings: HashMap<AuthMethod, Finding> = HashMap::new();
    let mut best: Option<Denial> = None;
    'alternatives: for alternative in auth.policy.alternatives() {
        let mut caller = Caller::default();
        for &method in alternative {
            if let Entry::Vacant(entry) = findings.entry(method) {
                let finding = match method {
                    AuthMethod::EntraId => check_token(auth, &token).await,
                    AuthMethod::FunctionKey => check_key(auth, &key),
                };
                entry.insert(finding);
            }
            match &findings[&method] {
                Ok(found) => caller.merge(method, found),
                Err(denial) => {
                    if best.as_ref().is_none_or(|best| denial.rank() > best.rank()) {
                        best = Some(denial.clone());
                    }
                    continue 'alternatives;
                }
            }
        }
        return Ok(caller);
    }
    Err(best.unwrap_or_else(|| Denial::missing(&auth.policy)))
}

async fn check_token(auth: &Auth, token: &Result<Option<String>, Denial>) -> Finding {
    let token = match token {
        Ok(Some(token)) => token,
        Ok(None) => return Err(Denial::missing_token()),
        Err(denial) => return Err(denial.clone()),
    };
    let Some(validator) = &auth.entra else {
        return Err(Denial::missing_token());
    };
    let identity = validator
        .validate(token)
        .await
        .map_err(Denial::from_token)?;
    Ok(Caller {
        object_id: identity.object_id,
        client_id: identity.client_id,
        tenant_id: Some(identity.tenant_id),
        ..Caller::default()
    })
}

fn check_key(auth: &Auth, key: &Result<Option<crate::config::Secret>, Denial>) -> Finding {
    let key = match key {
        Ok(Some(key)) => key,
        Ok(None) => return Err(Denial::missing_function_key()),
        Err(denial) => return Err(denial.clone()),
    };
    let Some(keys) = &auth.function_keys else {
        return Err(Denial::missing_function_key());
    };
    match keys.check(key) {
        Some(key_id) => Ok(Caller {
            key_id: Some(key_id),
            ..Caller::default()
        }),
        None => Err(Denial::invalid_function_key(
            "wrong-function-key",
            "the function key is not one of this service's keys",
        )),
    }
}

impl Caller {
    fn merge(&mut self, method: AuthMethod, found: &Caller) {
        self.methods.push(method);
        self.object_id = self.object_id.take().or_else(|| found.object_id.clone());
        self.client_id = self.client_id.take().or_else(|| found.client_id.clone());
        self.tenant_id = self.tenant_id.take().or_else(|| found.tenant_id.clone());
        self.key_id = self.key_id.take().or_else(|| found.key_id.clone());
    }
}
