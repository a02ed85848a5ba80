//! What the Azure clients share: the Entra ID token credential of the service's identity, and
//! the Key Vault client set-up used by the key backend and by `keyvault:` secrets.

pub mod key_vault;

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_identity::{
    AzureCliCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential,
};

use crate::config::key_vault::TokenIdentity;

/// The SDK's token credential for `identity`. Making it reads only the environment; the first
/// token is asked for on the first request.
pub fn token_credential(identity: &TokenIdentity) -> azure_core::Result<Arc<dyn TokenCredential>> {
    match identity {
        TokenIdentity::ManagedIdentity { client_id } => {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                ..Default::default()
            };
            ManagedIdentityCredential::new(Some(options)).map(|c| c as Arc<dyn TokenCredential>)
        }
        TokenIdentity::WorkloadIdentity => {
            WorkloadIdentityCredential::new(None).map(|c| c as Arc<dyn TokenCredential>)
        }
        TokenIdentity::AzureCli => {
            AzureCliCredential::new(None).map(|c| c as Arc<dyn TokenCredential>)
        }
    }
}
