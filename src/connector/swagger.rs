//! The connector's API definition: Swagger 2.0, made from the OpenAPI 3.1 document.
//!
//! Power Platform imports only Swagger 2.0 (DESIGN.md section 7), and no maintained crate
//! turns OpenAPI 3.1 into it, so this module does, for the subset of OpenAPI our document
//! uses. Every schema is written inline: the connector designer handles `$ref` poorly, and
//! our schemas are small.

use serde_json::{Map, Value, json};

use super::ConnectorSettings;

/// The operations of the connector, in the order the designer lists them. The others (health,
/// the OpenAPI document) are for administrators and probes, not for makers.
pub const OPERATIONS: [&str; 4] = ["SealPdf", "SealBlobPdf", "GetSealJob", "TestConnection"];

/// The name of the connection's security definition, as the Power Platform designer names an
/// Entra ID one.
const SECURITY_NAME: &str = "oauth2-auth";

/// Why the conversion could not be made: the OpenAPI document uses what this module does not
/// translate. It is a fault of the code, found by the tests.
#[derive(Debug, thiserror::Error)]
#[error("the OpenAPI document cannot be made into Swagger 2.0: {0}")]
pub struct ConversionError(String);

fn unsupported(what: impl Into<String>) -> ConversionError {
    ConversionError(what.into())
}

/// The Swagger 2.0 definition of the connector's [`OPERATIONS`] in `openapi`, for the service
/// at `settings.host`.
pub fn api_definition(
    openapi: &Value,
    settings: &ConnectorSettings,
) -> Result<Value, ConversionError> {
    let converter = Converter { openapi };
    let mut paths = Map::new();
    let mut tags = Vec::new();
    for id in OPERATIONS {
        let (path, method, operation) = converter.find(id)?;
        let converted = converter.operation(operation)?;
        for tag in converted["tags"].as_array().into_iter().flatten() {
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }
        let item = paths
            .entry(path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        item[method] = converted;
    }

    let info = &openapi["info"];
    Ok(json!({
        "swagger": "2.0",
        "info": {
            "title": info["title"],
            "description": info["description"],
            "version": info["version"],
        },
        "host": settings.host,
        "basePath": "/",
        "schemes": ["https"],
        "paths": paths,
        "securityDefinitions": {
            SECURITY_NAME: {
                "type": "oauth2",
                "flow": "accessCode",
                "authorizationUrl": "https://login.microsoftonline.com/common/oauth2/authorize",
                "tokenUrl": "https://login.windows.net/common/oauth2/authorize",
                "scopes": {},
            },
        },
        "security": [{ SECURITY_NAME: [] }],
        "tags": converter.tags(&tags),
        "x-ms-capabilities": { "testConnection": { "operationId": "TestConnection" } },
        "x-ms-connector-metadata": [
            { "propertyName": "Categories", "propertyValue": "Productivity;Security" },
        ],
    }))
}

struct Converter<'a> {
    openapi: &'a Value,
}

impl<'a> Converter<'a> {
    /// The path, method and object of operation `id`.
    fn find(&self, id: &str) -> Result<(&'a str, &'a str, &'a Value), ConversionError> {
        let paths = self.openapi["paths"]
            .as_object()
            .ok_or_else(|| unsupported("it has no paths"))?;
        for (path, item) in paths {
            for (method, operation) in item.as_object().into_iter().flatten() {
                if operation["operationId"] == id {
                    return Ok((path, method, operation));
                }
            }
        }
        Err(unsupported(format!("it has no operation {id}")))
    }

    fn operation(&self, operation: &Value) -> Result<Value, ConversionError> {
        let mut out = Map::new();
        for key in ["tags", "summary", "description", "operationId"] {
            if let Some(value) = operation.get(key) {
                out.insert(key.to_owned(), value.clone());
            }
        }
        copy_extensions(operation, &mut out);

        let mut parameters = Vec::new();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            parameters.push(self.parameter(parameter)?);
        }
        if let Some(body) = operation.get("requestBody") {
            let (media_type, parameter) = self.body_parameter(body)?;
            out.insert("consumes".into(), json!([media_type]));
            parameters.push(parameter);
        }
        if !parameters.is_empty() {
            out.insert("parameters".into(), Value::Array(parameters));
        }

        let (produces, responses) = self.responses(&operation["responses"])?;
        out.insert("produces".into(), json!(produces));
        out.insert("responses".into(), Value::Object(responses));
        if operation.get("security") == Some(&json!([{}])) {
            out.insert("security".into(), json!([]));
        }
        Ok(Value::Object(out))
    }

    /// A query, header or path parameter: its schema's type moves onto the parameter.
    fn parameter(&self, parameter: &Value) -> Result<Value, ConversionError> {
        let schema = self.schema(&parameter["schema"])?;
        let mut out = Map::new();
        for key in ["name", "in", "description", "required"] {
            if let Some(value) = parameter.get(key) {
                out.insert(key.to_owned(), value.clone());
            }
        }
        let Value::Object(schema) = schema else {
            return Err(unsupported("a parameter schema is not an object"));
        };
        for (key, value) in schema {
            match key.as_str() {
                "type" | "format" | "enum" | "default" | "pattern" | "minLength" | "maxLength"
                | "minimum" | "maximum" => {
                    out.insert(key, value);
                }
                "description" | "title" | "example" => {}
                other if other.starts_with("x-") => {}
                other => {
                    return Err(unsupported(format!(
                        "parameter {} has schema keyword {other}",
                        parameter["name"]
                    )));
                }
            }
        }
        copy_extensions(parameter, &mut out);
        out.entry("required").or_insert(json!(false));
        Ok(Value::Object(out))
    }

    /// The request body as Swagger's one body parameter, in the media type flows use (see
    /// [`preferred`]): raw PDF bytes are `file`, as flows pass file content; a JSON object is
    /// `body`.
    fn body_parameter(&self, body: &Value) -> Result<(String, Value), ConversionError> {
        let (media_type, content) = preferred(&body["content"])
            .ok_or_else(|| unsupported("a request body has no content"))?;
        let schema = self.schema(&content["schema"])?;
        let name = match schema["format"] == "binary" {
            true => "file",
            false => "body",
        };
        let mut parameter = Map::new();
        parameter.insert("name".into(), json!(name));
        parameter.insert("in".into(), json!("body"));
        let required = body["required"].as_bool().unwrap_or(false);
        parameter.insert("required".into(), json!(required));
        parameter.insert("schema".into(), schema);
        if let Some(description) = body.get("description") {
            parameter.insert("description".into(), description.clone());
        }
        copy_extensions(body, &mut parameter);
        Ok((media_type.clone(), Value::Object(parameter)))
    }

    /// Each response with the schema of its preferred media type; the media types of the
    /// successful answers and of the problems make `produces`.
    fn responses(
        &self,
        responses: &Value,
    ) -> Result<(Vec<String>, Map<String, Value>), ConversionError> {
        let mut produces: Vec<String> = Vec::new();
        let mut out = Map::new();
        for (status, response) in responses.as_object().into_iter().flatten() {
            let mut converted = Map::new();
            converted.insert("description".into(), response["description"].clone());
            if let Some((media_type, content)) = preferred(&response["content"]) {
                if !produces.contains(media_type) {
                    produces.push(media_type.clone());
                }
                let mut schema = self.schema(&content["schema"])?;
                if schema["format"] == "binary" {
                    schema["x-ms-summary"] = json!("File content");
                }
                converted.insert("schema".into(), schema);
            }
            if let Some(headers) = response["headers"].as_object() {
                let mut converted_headers = Map::new();
                for (name, header) in headers {
                    let schema = self.schema(&header["schema"])?;
                    let mut out_header = json!({ "type": schema["type"] });
                    if let Some(description) = header.get("description") {
                        out_header["description"] = description.clone();
                    }
                    if let Some(format) = schema.get("format") {
                        out_header["format"] = format.clone();
                    }
                    out_header["x-ms-summary"] = json!(header_title(name));
                    converted_headers.insert(name.clone(), out_header);
                }
                converted.insert("headers".into(), Value::Object(converted_headers));
            }
            out.insert(status.clone(), Value::Object(converted));
        }
        Ok((produces, out))
    }

    /// A JSON Schema of OpenAPI 3.1 as a Swagger 2.0 schema: references inlined, `null`
    /// dropped from types (an absent field is how our answers say "none"), `examples` made
    /// one `example`, keywords Swagger lacks left out.
    fn schema(&self, schema: &Value) -> Result<Value, ConversionError> {
        if let Some(reference) = schema.get("$ref") {
            let target = self.resolve(reference)?;
            let mut inlined = self.schema(target)?;
            // Keywords beside a reference, such as a property's description, win.
            let mut siblings = schema.clone();
            if let Some(siblings) = siblings.as_object_mut() {
                siblings.remove("$ref");
                for (key, value) in siblings.iter() {
                    inlined[key] = self.schema_keyword(key, value)?;
                }
            }
            return Ok(inlined);
        }
        let Some(object) = schema.as_object() else {
            return Err(unsupported("a schema is not an object"));
        };

        // `Option<T>` of a named type is `oneOf: [{"type": "null"}, T]`.
        if let Some(alternatives) = object.get("oneOf").and_then(Value::as_array) {
            let not_null: Vec<&Value> = alternatives
                .iter()
                .filter(|alternative| alternative["type"] != "null")
                .collect();
            if let [only] = not_null[..] {
                let mut inlined = self.schema(only)?;
                for (key, value) in object {
                    if key != "oneOf" {
                        inlined[key] = self.schema_keyword(key, value)?;
                    }
                }
                return Ok(inlined);
            }
            // Swagger 2.0 has no `oneOf`; our document has no real alternatives to translate.
            return Err(unsupported("a oneOf with more than one non-null branch"));
        }

        let mut out = Map::new();
        for (key, value) in object {
            let converted = self.schema_keyword(key, value)?;
            match key.as_str() {
                "contentMediaType" | "$schema" | "propertyNames" => {}
                "examples" => {
                    if let Some(first) = value.as_array().and_then(|all| all.first()) {
                        out.insert("example".into(), first.clone());
                    }
                }
                _ => {
                    out.insert(key.clone(), converted);
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn schema_keyword(&self, key: &str, value: &Value) -> Result<Value, ConversionError> {
        Ok(match key {
            "type" => match value {
                Value::Array(types) => {
                    let kept: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
                    match kept[..] {
                        [only] => only.clone(),
                        _ => return Err(unsupported(format!("type {value}"))),
                    }
                }
                other => other.clone(),
            },
            "properties" => {
                let mut properties = Map::new();
                for (name, property) in value.as_object().into_iter().flatten() {
                    properties.insert(name.clone(), self.schema(property)?);
                }
                Value::Object(properties)
            }
            "items" => self.schema(value)?,
            "enum" => Value::Array(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|item| !item.is_null())
                    .cloned()
                    .collect(),
            ),
            _ => value.clone(),
        })
    }

    fn resolve(&self, reference: &Value) -> Result<&'a Value, ConversionError> {
        let name = reference
            .as_str()
            .and_then(|text| text.strip_prefix("#/components/schemas/"))
            .ok_or_else(|| unsupported(format!("reference {reference}")))?;
        let schema = &self.openapi["components"]["schemas"][name];
        match schema.is_null() {
            true => Err(unsupported(format!("no schema {name}"))),
            false => Ok(schema),
        }
    }

    /// The document's tags that the connector's operations use.
    fn tags(&self, used: &[Value]) -> Vec<Value> {
        self.openapi["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|tag| used.contains(&tag["name"]))
            .cloned()
            .collect()
    }
}

/// The media types the connector uses, best first: a PDF travels as raw bytes, since flows
/// pass file content as such.
const MEDIA_TYPES: [&str; 3] = [
    "application/pdf",
    "application/json",
    "application/problem+json",
];

/// The entry of an OpenAPI `content` map in the best of [`MEDIA_TYPES`].
fn preferred(content: &Value) -> Option<(&String, &Value)> {
    let content = content.as_object()?;
    MEDIA_TYPES
        .iter()
        .find_map(|wanted| content.get_key_value(*wanted))
}

/// The title makers see for an answer's header: the header's name says little in a flow.
fn header_title(name: &str) -> &str {
    match name {
        "Location" => "Status URL",
        "Retry-After" => "Retry after (seconds)",
        "X-Seal-Field-Name" => "Signature field name (percent-encoded)",
        "X-Seal-Document-SHA256" => "Sealed document SHA-256",
        other => other,
    }
}

/// Copies the `x-` keys of `from` into `to`.
fn copy_extensions(from: &Value, to: &mut Map<String, Value>) {
    for (key, value) in from.as_object().into_iter().flatten() {
        if key.starts_with("x-") {
            to.insert(key.clone(), value.clone());
        }
    }
}
