//! `apiProperties.json` (the connection: Entra ID OAuth) and `settings.json` (for `paconn`).

use serde_json::{Value, json};

use super::{BRAND_COLOR, ConnectorSettings};

/// The connector's properties: one connection parameter, an Entra ID sign-in to the API at
/// `settings.resource_uri` through the connector's app `settings.client_id`.
///
/// `GlobalPerConnector` gives each connector its own redirect URL, shown once the connector is
/// saved, which goes on the client app's registration. The client secret is given at import
/// and never written here.
pub fn api_properties(settings: &ConnectorSettings) -> Value {
    json!({
        "properties": {
            "connectionParameters": {
                "token": {
                    "type": "oauthSetting",
                    "oAuthSettings": {
                        "identityProvider": "aad",
                        "clientId": settings.client_id,
                        "scopes": [],
                        "redirectMode": "GlobalPerConnector",
                        "properties": {
                            "IsFirstParty": "False",
                            "AzureActiveDirectoryResourceId": settings.resource_uri,
                        },
                        "customParameters": {
                            "loginUri": { "value": "https://login.microsoftonline.com" },
                            "tenantId": { "value": settings.tenant },
                            "resourceUri": { "value": settings.resource_uri },
                        },
                    },
                },
            },
            "iconBrandColor": BRAND_COLOR,
            "capabilities": ["actions"],
            "publisher": "pdf-seal",
            "stackOwner": "pdf-seal",
        },
    })
}

/// The `settings.json` that `paconn create --settings settings.json` reads: the package's
/// files. The environment is given on the command line, or added here by the administrator.
pub fn paconn_settings() -> Value {
    json!({
        "apiDefinition": "apiDefinition.swagger.json",
        "apiProperties": "apiProperties.json",
        "icon": "icon.png",
        "powerAppsApiVersion": "2016-11-01",
    })
}
