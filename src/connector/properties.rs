//! `apiProperties.json` (the connection: Entra ID OAuth) and `settings.json` (for `paconn`).

use serde_json::{Map, Value, json};

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

/// The keys of `settings.json` that belong to a deployment, not to the package: the Power
/// Platform environment, and the connector's id once `paconn create` has made it.
pub const KEPT_SETTINGS: [&str; 2] = ["environment", "connectorId"];

/// The `settings.json` that `paconn create --settings settings.json` reads, run in the
/// package's folder (paconn reads the file names from where it runs): the package's files,
/// and the `kept` deployment keys of an earlier copy.
pub fn paconn_settings(kept: Map<String, Value>) -> Value {
    let mut settings = json!({
        "apiDefinition": "apiDefinition.swagger.json",
        "apiProperties": "apiProperties.json",
        "icon": "icon.png",
        "powerAppsApiVersion": "2016-11-01",
    });
    if let Value::Object(map) = &mut settings {
        map.extend(kept);
    }
    settings
}
