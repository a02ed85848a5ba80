//! The connector's operations as `connector/apiDefinition.swagger.json` (Swagger 2.0) declares
//! them: what a sample may call and pass, and how a test that drives the service the way the
//! connector does sends each one, so that such tests break when the two disagree.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The connector definition, read once.
pub struct Connector {
    /// `info.title`, from which Power Platform derives the names samples use.
    pub title: String,
    pub operations: Vec<Operation>,
    /// The whole document, to resolve `$ref`s.
    document: Value,
}

/// One operation: its method, its full path (basePath included) and its parameters.
pub struct Operation {
    pub id: String,
    /// Upper case: `GET`, `POST`.
    pub method: String,
    pub path: String,
    pub parameters: Vec<Parameter>,
    /// The schema of the `200` answer, when it has one.
    pub answer: Option<Value>,
    /// The operation object.
    pub spec: Value,
}

pub struct Parameter {
    pub name: String,
    /// `query`, `header`, `path`, `body` or `formData`.
    pub location: String,
    pub required: bool,
    /// The schema of a body parameter.
    pub schema: Option<Value>,
}

impl Connector {
    /// Reads the definition; panics with the cause when it is missing or is not Swagger 2.0.
    pub fn load(file: &Path) -> Connector {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|err| panic!("reading {}: {err}", file.display()));
        let document: Value = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("{} is not JSON: {err}", file.display()));
        assert_eq!(
            document["swagger"],
            "2.0",
            "{} is not Swagger 2.0",
            file.display()
        );
        Connector::from_document(document)
    }

    pub fn from_document(document: Value) -> Connector {
        let base = document["basePath"]
            .as_str()
            .unwrap_or("/")
            .trim_end_matches('/');
        let mut operations = Vec::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            let shared = item.get("parameters").cloned().unwrap_or(Value::Null);
            for (method, operation) in item.as_object().into_iter().flatten() {
                let Some(id) = operation["operationId"].as_str() else {
                    continue;
                };
                let listed = [&shared, &operation["parameters"]];
                let parameters = listed
                    .iter()
                    .flat_map(|list| list.as_array().into_iter().flatten())
                    .map(|raw| parameter(resolve(&document, raw)))
                    .collect();
                let answer = operation["responses"]["200"]["schema"].clone();
                operations.push(Operation {
                    id: id.to_owned(),
                    method: method.to_ascii_uppercase(),
                    path: format!("{base}{path}"),
                    parameters,
                    answer: (!answer.is_null()).then_some(answer),
                    spec: operation.clone(),
                });
            }
        }
        Connector {
            title: document["info"]["title"].as_str().unwrap_or("").to_owned(),
            operations,
            document,
        }
    }

    pub fn by_id(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|operation| operation.id == id)
    }

    /// The operation whose method is `method` and whose path template matches `path`, in which
    /// a segment that is an expression (`@{...}`, `$id`) stands for any path parameter.
    pub fn by_route(&self, method: &str, path: &str) -> Option<&Operation> {
        self.operations.iter().find(|operation| {
            operation.method.eq_ignore_ascii_case(method) && template_matches(&operation.path, path)
        })
    }

    /// `schema` with every `$ref` on the way to it followed.
    pub fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        resolve(&self.document, schema)
    }

    /// Whether `schema` has the property path `keys` (each key a property of the object
    /// before it). `Err` names the first key that is not there.
    pub fn has_property_path(&self, schema: &Value, keys: &[String]) -> Result<(), String> {
        let mut schema = self.resolve(schema);
        for (depth, key) in keys.iter().enumerate() {
            match self.resolve(schema)["properties"].get(key) {
                Some(inner) => schema = self.resolve(inner),
                None => {
                    let known = property_names(self.resolve(schema));
                    let object = match depth {
                        0 => "the object".to_owned(),
                        _ => format!("{:?}", keys[..depth].join("/")),
                    };
                    return Err(format!(
                        "{object} has no property {key:?} (it has {known:?})"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The required property paths of `schema` that `given` (property paths) lacks: the
    /// required properties of the object, then those of each nested object that is given.
    pub fn missing_required(&self, schema: &Value, given: &[Vec<String>]) -> Vec<String> {
        let mut missing = Vec::new();
        self.collect_missing(schema, &mut Vec::new(), given, &mut missing);
        missing
    }

    fn collect_missing(
        &self,
        schema: &Value,
        prefix: &mut Vec<String>,
        given: &[Vec<String>],
        missing: &mut Vec<String>,
    ) {
        let schema = self.resolve(schema);
        let is_given = |path: &[String]| given.iter().any(|g| g.starts_with(path));
        for required in schema["required"].as_array().into_iter().flatten() {
            let Some(name) = required.as_str() else {
                continue;
            };
            prefix.push(name.to_owned());
            if !is_given(prefix) {
                missing.push(prefix.join("/"));
            }
            prefix.pop();
        }
        for (name, inner) in schema["properties"].as_object().into_iter().flatten() {
            prefix.push(name.clone());
            if is_given(prefix) {
                self.collect_missing(inner, prefix, given, missing);
            }
            prefix.pop();
        }
    }
}

impl Operation {
    pub fn parameter(&self, name: &str, location: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| {
            p.location == location
                && if location == "header" {
                    p.name.eq_ignore_ascii_case(name)
                } else {
                    p.name == name
                }
        })
    }

    pub fn named(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    pub fn body(&self) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.location == "body")
    }

    /// The method, for a request.
    pub fn http_method(&self) -> reqwest::Method {
        reqwest::Method::from_bytes(self.method.as_bytes()).unwrap()
    }

    /// The path with each `{name}` replaced by its value.
    pub fn path_with(&self, values: &[(&str, &str)]) -> String {
        let mut path = self.path.clone();
        for (name, value) in values {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        assert!(!path.contains('{'), "{path}: a path parameter has no value");
        path
    }

    /// True when `path` is this operation's path with a value in each template.
    pub fn matches(&self, path: &str) -> bool {
        template_matches(&self.path, path)
    }

    /// The names of the parameters of this operation that are `in` `place` (query, header,
    /// path, body).
    pub fn parameters_in(&self, place: &str) -> Vec<String> {
        let here = self.parameters.iter().filter(|p| p.location == place);
        here.map(|p| p.name.clone()).collect()
    }

    /// `METHOD /path (OperationId)`, for messages.
    pub fn describe(&self) -> String {
        format!("{} {} ({})", self.method, self.path, self.id)
    }
}

fn parameter(raw: &Value) -> Parameter {
    Parameter {
        name: raw["name"].as_str().unwrap_or("").to_owned(),
        location: raw["in"].as_str().unwrap_or("").to_owned(),
        required: raw["required"].as_bool().unwrap_or(false),
        schema: raw.get("schema").cloned(),
    }
}

/// Follows local `$ref`s (`#/definitions/Name`, `#/parameters/Name`) until a value has none.
fn resolve<'a>(document: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(reference) = value["$ref"].as_str() else {
            return value;
        };
        let pointer = reference.strip_prefix('#').unwrap_or(reference);
        value = document.pointer(pointer).unwrap_or(&Value::Null);
    }
    panic!("a chain of more than 32 $refs ends at {value}");
}

fn property_names(schema: &Value) -> Vec<String> {
    let properties = schema["properties"].as_object();
    properties
        .into_iter()
        .flatten()
        .map(|(name, _)| name.clone())
        .collect()
}

/// Whether the concrete `path` fits the `template`: the same literal segments, and any
/// non-empty segment (a value, an `@{...}` expression, a `$id` shell variable) where the
/// template has `{name}`.
fn template_matches(template: &str, path: &str) -> bool {
    let template: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let path: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    template.len() == path.len()
        && template.iter().zip(&path).all(|(want, got)| {
            let variable = want.starts_with('{') && want.ends_with('}');
            (variable && !got.is_empty()) || want == got
        })
}

/// The checked-in API definition of the Power Platform connector.
pub fn definition_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("connector/apiDefinition.swagger.json")
}

/// Every operation of the checked-in definition; panics naming the file when it has none.
pub fn operations() -> Vec<Operation> {
    let connector = Connector::load(&definition_path());
    assert!(
        !connector.operations.is_empty(),
        "{} declares no operation",
        definition_path().display()
    );
    connector.operations
}

/// The operation `id` of the checked-in definition; panics with the ids there are when it is
/// missing.
pub fn operation(id: &str) -> Operation {
    let all = operations();
    let ids: Vec<String> = all.iter().map(|operation| operation.id.clone()).collect();
    let found = all.into_iter().find(|operation| operation.id == id);
    found.unwrap_or_else(|| panic!("the connector has no operation {id}; it has {ids:?}"))
}
