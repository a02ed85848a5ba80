//! `pdf-seal connector --out DIR`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

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

    /// The Entra ID tenant that signs users in: its id, or common or organizations for any
    /// tenant [default: common]
    #[arg(long, value_name = "TENANT", value_parser = parse_tenant)]
    pub tenant: Option<String>,
}

/// Writes the Power Platform connector package and names its files; warns of each value left
/// as a placeholder, since such a package cannot be imported as it is.
pub fn run(args: ConnectorArgs) -> Result<(), CliError> {
    let defaults = ConnectorSettings::default();
    let mut placeholders = Vec::new();
    let mut given = |value: Option<String>, default: String, flag: &'static str| {
        value.unwrap_or_else(|| {
            placeholders.push(flag);
            default
        })
    };
    let settings = ConnectorSettings {
        host: given(args.host, defaults.host, "--host"),
        client_id: given(args.client_id, defaults.client_id, "--client-id"),
        resource_uri: given(args.resource_uri, defaults.resource_uri, "--resource-uri"),
        tenant: args.tenant.unwrap_or(defaults.tenant),
    };

    let name = super::describe(&args.out, "-");
    if args.out.exists() && !args.out.is_dir() {
        return Err(CliError::Refused(format!(
            "cannot write into {name}: it is not a directory"
        )));
    }
    let kept = connector::kept_settings(&args.out);
    let files = connector::package(&document(), &settings, kept).map_err(anyhow::Error::from)?;
    connector::write(&args.out, &files)
        .map_err(|error| CliError::from_path_io(format!("cannot write into {name}"), error))?;

    let mut report = String::new();
    for (file, _) in &files {
        let _ = writeln!(report, "wrote {}", args.out.join(file).display());
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(report.as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write to standard output")?;
    if !placeholders.is_empty() {
        eprintln!(
            "pdf-seal: warning: the package has placeholders for {}; give them before importing it",
            placeholders.join(", ")
        );
    }
    Ok(())
}

/// A host name with an optional port: letters, digits and hyphens in labels of at most 63
/// characters, and a port of 1 to 65535 in plain digits; no scheme or path.
fn parse_host(text: &str) -> Result<String, String> {
    let (name, port) = match text.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (text, None),
    };
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let name_ok = name.len() <= 253 && name.split('.').all(label_ok);
    let port_ok = port.is_none_or(|port| {
        !port.starts_with('0')
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|port| port > 0)
    });
    if !name_ok || !port_ok {
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

/// An `api://` URI of at most 400 characters, of visible ASCII.
fn parse_resource_uri(text: &str) -> Result<String, String> {
    let ok = text.starts_with("api://")
        && (7..=400).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_graphic());
    match ok {
        true => Ok(text.to_owned()),
        false => {
            Err("give the Application ID URI of pdf-seal's app registration, api://...".into())
        }
    }
}

/// A tenant id, or `common` or `organizations` (any tenant, or any tenant's work accounts).
fn parse_tenant(text: &str) -> Result<String, String> {
    let text = text.to_ascii_lowercase();
    match is_guid(&text) || ["common", "organizations"].contains(&text.as_str()) {
        true => Ok(text),
        false => Err("give the tenant id (a GUID), common or organizations".into()),
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
            "seal.example.com:+443",
            "seal.example.com:0",
            "seal.example.com:0443",
            &format!("{}.example.com", "a".repeat(64)),
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
        assert_eq!(parse_tenant("COMMON").unwrap(), "common");
        assert!(parse_tenant("organizations").is_ok());
        assert!(parse_tenant("contoso.onmicrosoft.com").is_err());
        assert!(parse_resource_uri("api://pdf-seal").is_ok());
        assert!(parse_resource_uri("https://pdf-seal").is_err());
        assert!(parse_resource_uri("api://x\u{202e}y").is_err());
        assert!(parse_resource_uri(&format!("api://{}", "x".repeat(400))).is_err());
    }
}
