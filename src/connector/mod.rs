//! The Power Platform custom connector package (DESIGN.md section 7), made from the same
//! OpenAPI document the service serves: `apiDefinition.swagger.json` (Swagger 2.0),
//! `apiProperties.json` (Entra ID OAuth), `settings.json` (for `paconn`), `icon.png` and the
//! import guide `README.md`.

pub mod properties;
pub mod swagger;

use std::fs;
use std::io;
use std::path::Path;

use serde_json::{Map, Value};

pub use swagger::{ConversionError, OPERATIONS};

/// The connector's brand colour: the icon's background, `iconBrandColor` in its properties.
pub const BRAND_COLOR: &str = "#1B4F72";

/// The icon, drawn by `scripts/make-icon`.
const ICON: &[u8] = include_bytes!("../../connector/icon.png");

/// The import guide.
const README: &str = include_str!("../../connector/README.md");

/// What differs from one deployment to the next. The defaults are placeholders that say what
/// to put there, as in the checked-in package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectorSettings {
    /// The service's public host name, such as `contoso-seal.azurewebsites.net`.
    pub host: String,
    /// The application (client) id of the connector's own Entra ID app registration.
    pub client_id: String,
    /// The Application ID URI of pdf-seal's Entra ID app registration, `api://...`.
    pub resource_uri: String,
    /// The Entra ID tenant that signs users in: a tenant id, or `common`.
    pub tenant: String,
}

impl Default for ConnectorSettings {
    fn default() -> Self {
        Self {
            host: "pdf-seal.example.com".into(),
            client_id: "00000000-0000-0000-0000-000000000000".into(),
            resource_uri: "api://00000000-0000-0000-0000-000000000000".into(),
            tenant: "common".into(),
        }
    }
}

/// The files of the package, by name, in the order they are written.
pub fn package(
    openapi: &Value,
    settings: &ConnectorSettings,
    kept: Map<String, Value>,
) -> Result<Vec<(&'static str, Vec<u8>)>, ConversionError> {
    let definition = swagger::api_definition(openapi, settings)?;
    Ok(vec![
        ("apiDefinition.swagger.json", pretty(&definition)),
        (
            "apiProperties.json",
            pretty(&properties::api_properties(settings)),
        ),
        ("settings.json", pretty(&properties::paconn_settings(kept))),
        ("icon.png", ICON.to_vec()),
        ("README.md", README.as_bytes().to_vec()),
    ])
}

/// Writes the package into `dir`, which is created if missing. Every file is written to a
/// temporary file first, and only once all are complete are they renamed into place, so that a
/// failure (a full disk) leaves the old package as it was. The files are readable by all
/// (0644): they hold no secret.
pub fn write(dir: &Path, files: &[(&'static str, Vec<u8>)]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut staged = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        let mut temporary = temporary_file_in(dir)?;
        io::Write::write_all(&mut temporary, bytes)?;
        temporary.as_file().sync_all()?;
        staged.push((temporary, dir.join(name)));
    }
    for (temporary, path) in staged {
        temporary.persist(path).map_err(|error| error.error)?;
    }
    Ok(())
}

/// A temporary file in `dir` that is readable by all once renamed into place.
pub fn temporary_file_in(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt as _;

    tempfile::Builder::new()
        .prefix(".pdf-seal-")
        .permissions(fs::Permissions::from_mode(0o644))
        .tempfile_in(dir)
}

/// The `environment` and `connectorId` of the `settings.json` already in `dir`, which `paconn`
/// or the administrator wrote there: writing the package again must keep them.
pub fn kept_settings(dir: &Path) -> Map<String, Value> {
    let Ok(text) = fs::read(dir.join("settings.json")) else {
        return Map::new();
    };
    let Ok(Value::Object(old)) = serde_json::from_slice::<Value>(&text) else {
        return Map::new();
    };
    old.into_iter()
        .filter(|(key, value)| {
            properties::KEPT_SETTINGS.contains(&key.as_str()) && value.is_string()
        })
        .collect()
}

/// Pretty JSON with a final line break, so that the checked-in files diff line by line.
fn pretty(value: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("JSON values serialize");
    bytes.push(b'\n');
    bytes
}
