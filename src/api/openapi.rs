//! The OpenAPI 3.1 document of the API, derived from the handlers and the types they read and
//! answer, and `GET /api/openapi.json`, which serves it.
//!
//! The same document is the source of the Power Platform connector (see [`crate::connector`]):
//! it carries the connector's `x-ms-summary` and `x-ms-visibility` extensions, which OpenAPI
//! allows anywhere and other tools ignore.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use actix_web::HttpResponse;
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, RefOr, Schema};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use super::problem::{PROBLEM_JSON, ProblemBody, ProblemType};

/// The document's description: what the API is, for a reader of the document alone.
const DESCRIPTION: &str = "\
Applies electronic seals (PAdES signatures made with an organisation's certificate) to PDF \
documents inside the organisation's own Azure subscription. Only a digest of each document \
reaches the signing key. Errors are `application/problem+json` (RFC 9457) with a stable `type`, \
`/problems/<slug>`.";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "PDF Seal",
        description = DESCRIPTION,
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        super::seal::seal,
        super::seal_jobs::create,
        super::seal_jobs::status,
        super::connection::connection,
        super::health::health,
        openapi_json,
    ),
    components(schemas(ProblemBody, DigestName)),
    tags(
        (name = "seal", description = "Sealing PDFs, in the request or in Blob Storage."),
        (name = "connection", description = "The connector's connection test."),
        (name = "service", description = "The service itself."),
    ),
    modifiers(&ProblemAnswers, &Credentials),
)]
struct ApiDoc;

/// The OpenAPI document of this version of pdf-seal, as JSON, the same on every run.
pub fn document() -> Value {
    let mut document =
        serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes");
    add_property_extensions(&mut document);
    tidy(&mut document);
    document
}

/// The connector's titles (and visibility) of the properties whose type is a schema of its
/// own. utoipa 6 drops the `extensions` of such fields, so they are added here, beside the
/// reference, where OpenAPI 3.1 allows them.
const PROPERTY_EXTENSIONS: &[(&str, &str, &str, Option<&str>)] = &[
    ("SealJobRequest", "source", "Source", None),
    ("SealJobRequest", "destination", "Destination", None),
    (
        "SealJobRequest",
        "digest",
        "Digest algorithm",
        Some("advanced"),
    ),
    ("SealJob", "status", "Status", None),
    ("SealJob", "source", "Source", None),
    ("SealJob", "destination", "Destination", None),
    ("SealJob", "timings", "Timings", Some("advanced")),
    ("SealPdfJson", "file", "File", None),
    ("SealPdfJson", "digest", "Digest algorithm", None),
];

fn add_property_extensions(document: &mut Value) {
    let schemas = &mut document["components"]["schemas"];
    for (schema, property, summary, visibility) in PROPERTY_EXTENSIONS {
        let target = &mut schemas[*schema]["properties"][*property];
        assert!(target.is_object(), "no property {schema}.{property}");
        target["x-ms-summary"] = Value::from(*summary);
        if let Some(visibility) = visibility {
            target["x-ms-visibility"] = Value::from(*visibility);
        }
    }
}

/// The document as the service serves it and `pdf-seal openapi` writes it: pretty JSON with a
/// final line break, so that the checked-in copy diffs line by line.
pub fn document_json() -> String {
    let mut json =
        serde_json::to_string_pretty(&document()).expect("the OpenAPI document serializes");
    json.push('\n');
    json
}

/// Joins the lines of every `description` into paragraphs: a doc comment breaks its lines at
/// 100 columns, which would show as breaks in the middle of sentences. Also puts the `x-`
/// keys of each object last, in name order: utoipa keeps them in a hash map, whose order
/// changes from run to run, and the checked-in document must not.
fn tidy(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let mut extensions: Vec<(String, Value)> = Vec::new();
            let keys: Vec<String> = map
                .keys()
                .filter(|key| key.starts_with("x-"))
                .cloned()
                .collect();
            for key in keys {
                if let Some(member) = map.shift_remove(&key) {
                    extensions.push((key, member));
                }
            }
            extensions.sort_by(|a, b| a.0.cmp(&b.0));
            map.extend(extensions);
            for (key, member) in map.iter_mut() {
                match (key.as_str(), member) {
                    ("description", Value::String(text)) => *text = paragraphs(text),
                    (_, member) => tidy(member),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

fn paragraphs(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| {
            paragraph
                .split('\n')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Get the OpenAPI document
///
/// The OpenAPI 3.1 description of this API, generated from the code that serves it.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "GetOpenApiDocument",
    tag = "service",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object),
    ),
)]
pub async fn openapi_json() -> HttpResponse {
    // The document never changes while the service runs: made once, on the first request.
    static DOCUMENT: OnceLock<Bytes> = OnceLock::new();
    let document = DOCUMENT.get_or_init(|| Bytes::from(document_json()));
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.clone())
}

/// A PDF as the raw bytes of a request or answer body.
pub struct PdfFile;

impl PartialSchema for PdfFile {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .content_media_type("application/pdf")
            .description(Some("The PDF's bytes."))
            .into()
    }
}

impl ToSchema for PdfFile {}

/// A file as flows hold it.
#[derive(ToSchema)]
pub struct FlowFile {
    /// The media type; not checked, since the content itself must be a PDF.
    #[schema(rename = "$content-type", example = "application/pdf")]
    pub content_type: Option<String>,
    /// The file as base64.
    #[schema(rename = "$content", format = Byte)]
    pub content: String,
}

/// The digest algorithms a caller may choose, as named in requests.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DigestName {
    Sha256,
    Sha384,
    Sha512,
}

/// The problems each operation can answer, besides those of [`CALLER_PROBLEMS`].
const OPERATION_PROBLEMS: &[(&str, &[ProblemType])] = {
    use ProblemType::*;
    &[
        (
            "SealPdf",
            &[
                NotPdf,
                InvalidBase64,
                InvalidRequest,
                InvalidOption,
                RequestTimeout,
                PayloadTooLarge,
                UnsupportedMediaType,
                EncryptedPdf,
                CertifiedPdf,
                UnreadablePdf,
                SigningServiceRefused,
                SigningServiceFailed,
                Busy,
                SigningServiceUnavailable,
                TimestampUnavailable,
            ],
        ),
        (
            "SealBlobPdf",
            &[
                InvalidRequest,
                InvalidOption,
                NotFound,
                RequestTimeout,
                IdempotencyKeyReused,
                PayloadTooLarge,
                UnsupportedMediaType,
                StorageUnavailable,
            ],
        ),
        (
            "GetSealJob",
            &[
                NotPdf,
                InvalidOption,
                StorageAccessDenied,
                NotFound,
                SourceChanged,
                DestinationExists,
                EncryptedPdf,
                CertifiedPdf,
                UnreadablePdf,
                SourceNotFound,
                DestinationContainerNotFound,
                DestinationUnusable,
                JobGaveUp,
                StorageFailed,
                StorageUnavailable,
            ],
        ),
        ("TestConnection", &[]),
        ("GetOpenApiDocument", &[]),
    ]
};

/// What any operation but health can answer: the caller's credentials or address refused,
/// the identity provider out of reach, an internal error.
const CALLER_PROBLEMS: &[ProblemType] = {
    use ProblemType::*;
    &[
        AuthenticationRequired,
        InvalidToken,
        InvalidFunctionKey,
        AccessDenied,
        AddressNotAllowed,
        IdentityProviderUnavailable,
        Internal,
    ]
};

/// Adds each operation's error answers from [`OPERATION_PROBLEMS`]: one response per status,
/// whose description names the problem types it can carry.
struct ProblemAnswers;

impl Modify for ProblemAnswers {
    fn modify(&self, document: &mut Document) {
        for item in document.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.post];
            for operation in operations.into_iter().flatten() {
                add_problem_answers(operation);
            }
        }
    }
}

fn add_problem_answers(operation: &mut Operation) {
    let id = operation.operation_id.as_deref().unwrap_or_default();
    let Some((_, own)) = OPERATION_PROBLEMS.iter().find(|(name, _)| *name == id) else {
        return;
    };

    let mut by_status: BTreeMap<u16, Vec<ProblemType>> = BTreeMap::new();
    for problem in own.iter().chain(CALLER_PROBLEMS) {
        by_status
            .entry(problem.status().as_u16())
            .or_default()
            .push(*problem);
    }

    let mut responses = ResponsesBuilder::new().build();
    for (status, problems) in by_status {
        let slugs: Vec<String> = problems
            .iter()
            .map(|problem| format!("`{}`", problem.slug()))
            .collect();
        let description = format!("A problem: {}.", slugs.join(", "));
        let content = ContentBuilder::new()
            .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                "Problem",
            ))))
            .build();
        let response = ResponseBuilder::new()
            .description(description)
            .content(PROBLEM_JSON, content)
            .build();
        responses
            .responses
            .insert(status.to_string(), RefOr::T(response));
    }
    operation
        .responses
        .responses
        .append(&mut responses.responses);
}

/// The credentials the service accepts (see `PDF_SEAL_AUTH`): an Entra ID access token, or a
/// function key in a header or the query. The policy the service runs with decides which.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some("An Entra ID access token for the API."))
            .build();
        components.add_security_scheme("entraId", SecurityScheme::Http(bearer));
        components.add_security_scheme(
            "functionKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-functions-key",
                "A function key.",
            ))),
        );
        components.add_security_scheme(
            "functionKeyQuery",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "code",
                "A function key in the query string.",
            ))),
        );
        document.security = Some(
            ["entraId", "functionKey", "functionKeyQuery"]
                .into_iter()
                .map(|name| SecurityRequirement::new(name, Vec::<String>::new()))
                .collect(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_its_problem_answers() {
        let document = document();

        for (id, problems) in OPERATION_PROBLEMS {
            let operation = find_operation(&document, id);
            for problem in problems.iter().chain(CALLER_PROBLEMS) {
                let status = problem.status().as_u16().to_string();
                let response = &operation["responses"][&status];
                let description = response["description"].as_str().unwrap_or_default();
                assert!(
                    description.contains(&format!("`{}`", problem.slug())),
                    "{id} {status}: {description}"
                );
                assert!(
                    response["content"][PROBLEM_JSON].is_object(),
                    "{id} {status}"
                );
            }
        }
    }

    #[test]
    fn health_answers_no_credential_problem() {
        let document = document();

        let health = find_operation(&document, "GetHealth");

        assert!(health["responses"]["401"].is_null());
        assert_eq!(health["security"], serde_json::json!([{}]));
    }

    #[test]
    fn the_document_is_the_same_on_every_run() {
        let first = document_json();

        for _ in 0..8 {
            assert!(
                document_json() == first,
                "the document changed between two runs"
            );
        }
    }

    #[test]
    fn description_lines_are_joined_into_paragraphs() {
        let text = "One sentence\nwrapped.\n\nA second\n paragraph.";

        assert_eq!(
            paragraphs(text),
            "One sentence wrapped.\n\nA second paragraph."
        );
    }

    fn find_operation<'a>(document: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
        document["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .find(|operation| operation["operationId"] == id)
            .unwrap_or_else(|| panic!("no operation {id}"))
    }
}
