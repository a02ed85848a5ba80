//! Who may call the API: Entra ID tokens, function keys and the client address allow-list,
//! checked by one middleware ([`guard::check`]) in front of every route.
//!
//! A sealing service is a signing oracle: whoever can call it can make a document carry the
//! organisation's seal. So every route but `/api/health` needs a credential unless the policy
//! is `none`, which start-up allows only on loopback.

pub mod client_address;
pub mod credentials;
pub mod denial;
pub mod entra;
pub mod function_keys;
pub mod guard;

use std::sync::Arc;

use crate::config::{AuthMethod, AuthPolicy, AuthSettings};
use client_address::NetworkFilter;
use entra::EntraValidator;
use function_keys::FunctionKeys;

/// The path that every caller may reach without a credential, for probes.
pub const UNAUTHENTICATED_PATH: &str = "/api/health";

/// The checks of every request, shared by the HTTP workers.
#[derive(Clone)]
pub struct Auth {
    policy: AuthPolicy,
    entra: Option<Arc<EntraValidator>>,
    function_keys: Option<Arc<FunctionKeys>>,
    network: Arc<NetworkFilter>,
}

impl Auth {
    /// No authentication and no address limit, for loopback use and tests.
    pub fn disabled() -> Self {
        Self {
            policy: AuthPolicy::none(),
            entra: None,
            function_keys: None,
            network: Arc::new(NetworkFilter::default()),
        }
    }

    /// The checks that `settings` ask for.
    pub fn new(settings: &AuthSettings) -> Self {
        Self {
            policy: settings.policy.clone(),
            entra: settings
                .entra
                .clone()
                .map(|entra| Arc::new(EntraValidator::new(entra))),
            function_keys: settings
                .function_keys
                .as_ref()
                .map(|keys| Arc::new(FunctionKeys::new(keys))),
            network: Arc::new(NetworkFilter::new(&settings.network)),
        }
    }

    /// The Entra ID validator, when the policy uses Entra ID.
    pub fn entra(&self) -> Option<&Arc<EntraValidator>> {
        self.entra.as_ref()
    }

    /// The policy, for the start-up log.
    pub fn policy(&self) -> &AuthPolicy {
        &self.policy
    }

    /// Whether `request` may see what only callers see: it was admitted with a credential,
    /// or the service asks for none (which start-up allows only on loopback). Health tells
    /// others only whether the service is up.
    pub fn trusts(&self, request: &actix_web::HttpRequest) -> bool {
        use actix_web::HttpMessage as _;
        self.policy.is_none() || request.extensions().contains::<Caller>()
    }
}

/// Who a request was admitted as, for the request's log line. Never holds a credential.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    /// The methods the request passed, such as `entra-id` or `function-key`.
    pub methods: Vec<AuthMethod>,
    /// `oid` of the token: the user or service principal.
    pub object_id: Option<String>,
    /// `azp` or `appid` of the token: the calling application.
    pub client_id: Option<String>,
    /// `tid` of the token.
    pub tenant_id: Option<String>,
    /// The id of the function key used (a prefix of its SHA-256).
    pub key_id: Option<String>,
}

impl Caller {
    /// The methods as `PDF_SEAL_AUTH` spells them, joined by `+`.
    pub fn method_names(&self) -> String {
        let names: Vec<&str> = self.methods.iter().map(|method| method.name()).collect();
        names.join("+")
    }
}
