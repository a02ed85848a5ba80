//! A refused request: why, for the log and for the caller.

use actix_web::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};

use super::entra::TokenRejection;
use crate::api::problem::{ApiError, ProblemType};
use crate::config::AuthMethod;
use crate::config::AuthPolicy;

/// The realm of every challenge.
pub const REALM: &str = "pdf-seal";

/// Seconds a caller should wait when the identity provider's keys cannot be had.
pub const PROVIDER_RETRY_AFTER_SECS: u64 = 10;

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    problem: ProblemType,
    /// A stable slug for the `auth.reason` log field.
    reason: &'static str,
    detail: String,
    /// For a 403 for want of a scope or role: `insufficient_scope` in the challenge.
    insufficient_scope: bool,
}

/// The reason of a request that carries no credential at all ([`Denial::missing`]).
pub const MISSING_CREDENTIALS: &str = "missing-credentials";

impl Denial {
    /// 401: the request has none of the credentials the policy takes; the detail says what
    /// the policy asks for, alternatives joined by "or", methods of one by "and".
    pub fn missing(policy: &AuthPolicy) -> Self {
        let alternatives: Vec<String> = policy
            .alternatives()
            .iter()
            .map(|methods| {
                let names: Vec<&str> = methods.iter().map(|method| describe(*method)).collect();
                names.join(" and ")
            })
            .collect();
        Self::new(
            ProblemType::AuthenticationRequired,
            MISSING_CREDENTIALS,
            format!("this API needs {}", alternatives.join(", or ")),
        )
    }

    /// 401: the bearer token cannot be used.
    pub fn invalid_token(reason: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ProblemType::InvalidToken, reason, detail)
    }

    /// 401: the function key is not one of the configured keys, or cannot be read.
    pub fn invalid_function_key(reason: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ProblemType::InvalidFunctionKey, reason, detail)
    }

    /// 401 for an alternative whose function key is missing, when another alternative's
    /// credential was given.
    pub fn missing_function_key() -> Self {
        Self::invalid_function_key(
            "missing-function-key",
            "this API also needs a function key (x-functions-key or ?code=)",
        )
    }

    /// 401 for an alternative whose token is missing, when another alternative's credential
    /// was given.
    pub fn missing_token() -> Self {
        Self::invalid_token(
            "missing-token",
            "this API also needs an Entra ID bearer token in the Authorization header",
        )
    }

    /// 403: the client address is not in `PDF_SEAL_IP_ALLOW`, or cannot be told.
    pub fn address(reason: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ProblemType::AddressNotAllowed, reason, detail)
    }

    /// The denial for a token that Entra ID validation refused.
    pub fn from_token(rejection: TokenRejection) -> Self {
        let reason = rejection.reason();
        match rejection {
            TokenRejection::Invalid { reason, detail } => Self::invalid_token(reason, detail),
            TokenRejection::Forbidden {
                reason,
                detail,
                insufficient_scope,
            } => Self {
                insufficient_scope,
                ..Self::new(ProblemType::AccessDenied, reason, detail)
            },
            TokenRejection::Unavailable { detail } => {
                Self::new(ProblemType::IdentityProviderUnavailable, reason, detail)
            }
        }
    }

    fn new(problem: ProblemType, reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            problem,
            reason,
            detail: detail.into(),
            insufficient_scope: false,
        }
    }

    /// The stable slug of the cause, for the `auth.reason` log field.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The problem type of the answer.
    pub fn problem(&self) -> ProblemType {
        self.problem
    }

    /// How strongly this denial should be the one answered when several alternatives failed:
    /// a right that is missing beats an unreachable provider, which beats a bad credential,
    /// which beats a missing one.
    pub fn rank(&self) -> u8 {
        match self.problem {
            ProblemType::AccessDenied => 4,
            ProblemType::IdentityProviderUnavailable => 3,
            ProblemType::InvalidToken | ProblemType::InvalidFunctionKey
                if !self.reason.starts_with("missing-") =>
            {
                2
            }
            _ => 1,
        }
    }

    /// The problem+json answer, with `WWW-Authenticate` on a 401 or a token's 403 (RFC 6750
    /// section 3) and `Retry-After` on a 503.
    pub fn into_api_error(self, policy: &AuthPolicy) -> ApiError {
        let challenge = self.challenge(policy);
        let problem = self.problem;
        let error = ApiError::new(problem, self.detail);
        match problem {
            ProblemType::IdentityProviderUnavailable => {
                error.with_header(RETRY_AFTER, PROVIDER_RETRY_AFTER_SECS.to_string())
            }
            _ => match challenge {
                Some(challenge) => error.with_header(WWW_AUTHENTICATE, challenge),
                None => error,
            },
        }
    }

    /// The challenges: `Bearer` with the error (RFC 6750 section 3) when the policy takes
    /// tokens, `FunctionKey` when it takes keys (a scheme of pdf-seal's own: HTTP requires a
    /// challenge on every 401, and function keys have no registered scheme).
    ///
    /// A request without any credential also gets `error="invalid_token"`, though RFC 6750
    /// says such a request should get a bare challenge: clients that log only this header
    /// then still learn what was wrong.
    fn challenge(&self, policy: &AuthPolicy) -> Option<String> {
        // The Bearer challenge carries an error only when the token is at fault (or absent).
        let bearer_error = match self.problem {
            ProblemType::AccessDenied if self.insufficient_scope => Some("insufficient_scope"),
            ProblemType::AccessDenied | ProblemType::AddressNotAllowed => return None,
            ProblemType::InvalidToken | ProblemType::AuthenticationRequired => {
                Some("invalid_token")
            }
            _ => None,
        };
        let mut challenges = Vec::new();
        if policy.uses(AuthMethod::EntraId) {
            challenges.push(match bearer_error {
                Some(error) => format!(
                    "Bearer realm=\"{REALM}\", error=\"{error}\", error_description=\"{}\"",
                    quotable(&self.detail)
                ),
                None => format!("Bearer realm=\"{REALM}\""),
            });
        }
        if policy.uses(AuthMethod::FunctionKey) && self.problem != ProblemType::AccessDenied {
            challenges.push(format!("FunctionKey realm=\"{REALM}\""));
        }
        (!challenges.is_empty()).then(|| challenges.join(", "))
    }
}

/// What a method asks of a request, for a detail.
fn describe(method: AuthMethod) -> &'static str {
    match method {
        AuthMethod::EntraId => "an Entra ID bearer token",
        AuthMethod::FunctionKey => "a function key (x-functions-key or ?code=)",
    }
}

/// `text` fit for a quoted string in a header: visible ASCII and spaces, without `"` and `\`.
fn quotable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' ' => ' ',
            '"' | '\\' => '\'',
            c if c.is_ascii_graphic() => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError as _;

    use super::*;

    fn policy(text: &str) -> AuthPolicy {
        AuthPolicy::parse(text).unwrap()
    }

    fn challenge_of(denial: Denial, policy: &AuthPolicy) -> Option<String> {
        let response = denial.into_api_error(policy).error_response();
        response
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|value| value.to_str().unwrap().to_owned())
    }

    #[test]
    fn an_invalid_token_gets_a_bearer_challenge_with_error_and_description() {
        let denial = Denial::invalid_token("expired", "the token has \"expired\"");

        let challenge = challenge_of(denial, &policy("entra-id")).unwrap();

        assert_eq!(
            challenge,
            "Bearer realm=\"pdf-seal\", error=\"invalid_token\", \
             error_description=\"the token has 'expired'\""
        );
    }

    #[test]
    fn a_missing_scope_is_403_with_insufficient_scope() {
        let denial = Denial::from_token(TokenRejection::Forbidden {
            reason: "missing-scope",
            detail: "no scope".into(),
            insufficient_scope: true,
        });
        let error = denial.clone().into_api_error(&policy("entra-id"));

        assert_eq!(error.error_response().status(), 403);
        let challenge = challenge_of(denial, &policy("entra-id")).unwrap();
        assert!(
            challenge.contains("error=\"insufficient_scope\""),
            "{challenge}"
        );
    }

    #[test]
    fn both_challenges_when_both_methods_are_accepted() {
        let policy = policy("entra-id,function-key");

        let challenge = challenge_of(Denial::missing(&policy), &policy).unwrap();

        assert!(challenge.starts_with("Bearer realm="), "{challenge}");
        assert!(
            challenge.ends_with(", FunctionKey realm=\"pdf-seal\""),
            "{challenge}"
        );
    }

    #[test]
    fn the_missing_detail_follows_the_policy() {
        let both = Denial::missing(&policy("entra-id+function-key"));
        let either = Denial::missing(&policy("entra-id,function-key"));

        assert!(
            both.detail.contains("token and a function key"),
            "{}",
            both.detail
        );
        assert!(
            either.detail.contains("token, or a function key"),
            "{}",
            either.detail
        );
    }

    #[test]
    fn a_key_at_fault_leaves_the_bearer_challenge_without_an_error() {
        let policy = policy("entra-id+function-key");

        let challenge = challenge_of(Denial::missing_function_key(), &policy).unwrap();

        assert_eq!(
            challenge,
            "Bearer realm=\"pdf-seal\", FunctionKey realm=\"pdf-seal\""
        );
    }

    #[test]
    fn an_address_denial_is_403_without_a_challenge() {
        let policy = policy("function-key");
        let error = Denial::address("address-not-allowed", "no")
            .into_api_error(&policy)
            .error_response();

        assert_eq!(error.status(), 403);
        assert!(error.headers().get(WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn an_unreachable_provider_is_503_with_retry_after() {
        let denial = Denial::from_token(TokenRejection::Unavailable {
            detail: "down".into(),
        });

        let response = denial.into_api_error(&policy("entra-id")).error_response();

        assert_eq!(response.status(), 503);
        assert_eq!(response.headers().get(RETRY_AFTER).unwrap(), "10");
    }

    #[test]
    fn a_given_credential_outranks_a_missing_one() {
        let bad = Denial::invalid_token("expired", "x");

        assert!(bad.rank() > Denial::missing_function_key().rank());
        assert!(bad.rank() > Denial::missing(&policy("entra-id")).rank());
    }
}
