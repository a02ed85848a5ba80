//! `pdf-seal connector --out DIR`.

use std::path::PathBuf;

use super::CliError;
use crate::api::openapi::document;
use crate::connector::{self, ConnectorSettings};

/// The arguments of `pdf-seal connector`.
#[derive(Debug, clap::Args)]
pub struct ConnectorArgs {
    /// Directory to write the package into (created if missing; its files are replaced)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// The service's public host name, such as contoso-seal.azurewebsites.net
    #[arg(long, value_name = "HOST", value_parser = parse_host)]
    pub host: Option<String>,

    /// The application (client) id of the connector's Entra ID app registration
    #[arg(long, value_name = "ID", value_parser = parse_client_id)]
    pub client_id: Option<String>,

    /// The Application ID URI of pdf-seal's Entra ID app registration (api://...)
    #[arg(long, value_name = "URI", value_parser = parse_resource_uri)]
    pub resource_uri: Option<String>,

    /// The Entra ID tenant that signs users in: its id, or common for any tenant
    #[arg(long, value_name = "TENANT", value_parser = parse_tenant)]
    pub tenant: Option<String>,
}

/// Writes the Power Platform connector package and names its files.
pub fn run(args: ConnectorArgs) -> Result<(), CliError> {
    let defaults = ConnectorSettings::default();
    let settings = ConnectorSettings {
        host: args.host.unwrap_or(defaults.host),
        client_id: args.client_id.unwrap_or(defaults.client_id),
        resource_uri: args.resource_uri.unwrap_or(defaults.resource_uri),
        tenant: args.tenant.unwrap_or(defaults.tenant),
    };
    let openapi = document();
    let files = connector::package(&openapi, &settings).map_err(anyhow::Error::from)?;

    let name = super::describe(&args.out, "-");
    connector::write(&args.out, &files)
        .map_err(|error| CliError::from_path_io(format!("cannot write into {name}"), error))?;
    for (file, _) in &files {
        println!("wrote {}", args.out.join(file).display());
    }
    Ok(())
}

/// A host name: letters, digits, hyphens and dots, with an optional port; no scheme or path.
fn parse_host(text: &str) -> Result<String, String> {
    let (name, port) = text.split_once(':').unwrap_or((text, "0"));
    let name_ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !name_ok || port.parse::<u16>().is_err() {
        return Err(
            "give a host name such as contoso-seal.azurewebsites.net, without https:// or a path"
                .into(),
        );
    }
    Ok(text.to_ascii_lowercase())
}

/// A GUID, as Entra ID writes application ids.
fn parse_client_id(text: &str) -> Result<String, String> {
    match is_guid(text) {
        true => Ok(text.to_ascii_lowercase()),
        false => Err(
            "give the application (client) id, a GUID such as 11111111-2222-3333-4444-555555555555"
                .into(),
        ),
    }
}

fn parse_resource_uri(text: &str) -> Result<String, String> {
    let ok = text.starts_with("api://") && text.len() > 6 && !text.chars().any(char::is_whitespace);
    match ok {
        true => Ok(text.to_owned()),
        false => {
            Err("give the Application ID URI of pdf-seal's app registration, api://...".into())
        }
    }
}

fn parse_tenant(text: &str) -> Result<String, String> {
    let known = ["common", "organizations"];
    match is_guid(text) || known.contains(&text) {
        true => Ok(text.to_ascii_lowercase()),
        false => Err("give the tenant id (a GUID), or common".into()),
    }
}

fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    groups.len() == lengths.len()
        && groups.iter().zip(lengths).all(|(group, length)| {
            group.len() == length && group.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_names_without_scheme_or_path() {
        assert_eq!(
            parse_host("Contoso-Seal.azurewebsites.net").unwrap(),
            "contoso-seal.azurewebsites.net"
        );
        assert!(parse_host("seal.example.com:8443").is_ok());
        for bad in [
            "https://seal.example.com",
            "seal.example.com/api",
            "",
            "a..b",
            "host:99999",
        ] {
            assert!(parse_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_ids_and_tenants_are_guids() {
        assert!(parse_client_id("11111111-2222-3333-4444-555555555555").is_ok());
        assert!(parse_client_id("my-app").is_err());
        assert!(parse_tenant("common").is_ok());
        assert!(parse_tenant("contoso.onmicrosoft.com").is_err());
        assert!(parse_resource_uri("api://pdf-seal").is_ok());
        assert!(parse_resource_uri("https://pdf-seal").is_err());
    }
}
