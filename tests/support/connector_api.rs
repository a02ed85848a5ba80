//! The connector's operations as `connector/apiDefinition.swagger.json` declares them, so that
//! a test that drives the service the way the connector does breaks when the two disagree.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The checked-in API definition of the Power Platform connector.
pub fn definition_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("connector/apiDefinition.swagger.json")
}

/// One operation: how the connector sends it.
#[derive(Clone, Debug)]
pub struct Operation {
    pub id: String,
    /// Upper case, as on the wire: `GET`, `POST`.
    pub method: String,
    /// `basePath` joined with the path, with its templates: `/api/seal-jobs/{id}`.
    pub path: String,
    /// The operation object.
    pub spec: Value,
}

impl Operation {
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

    /// True when `path` is this operation's path with one value in each template.
    pub fn matches(&self, path: &str) -> bool {
        let mut rest = path;
        for (index, piece) in self.path.split('/').enumerate() {
            let separator = if index == 0 { "" } else { "/" };
            let Some(after) = rest.strip_prefix(separator) else {
                return false;
            };
            let end = after.find('/').unwrap_or(after.len());
            let segment = &after[..end];
            let template = piece.starts_with('{') && piece.ends_with('}');
            if (template && segment.is_empty()) || (!template && segment != piece) {
                return false;
            }
            rest = &after[end..];
        }
        rest.is_empty()
    }

    /// The names of the parameters of this operation that are `in` `place` (query, header,
    /// path, body).
    pub fn parameters_in(&self, place: &str) -> Vec<String> {
        let parameters = self.spec["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        parameters
            .iter()
            .filter(|parameter| parameter["in"] == place)
            .filter_map(|parameter| parameter["name"].as_str().map(str::to_owned))
            .collect()
    }
}

/// Every operation of the definition; panics naming the file when it is missing or has none.
pub fn operations() -> Vec<Operation> {
    let path = definition_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "{} cannot be read ({error}): the connector's operations come from it",
            path.display()
        )
    });
    let definition: Value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()));
    let base = definition["basePath"]
        .as_str()
        .unwrap_or("/")
        .trim_end_matches('/');

    let mut found = Vec::new();
    let paths = definition["paths"].as_object().cloned().unwrap_or_default();
    for (path, item) in &paths {
        for (method, spec) in item.as_object().into_iter().flatten() {
            if let Some(id) = spec["operationId"].as_str() {
                found.push(Operation {
                    id: id.to_owned(),
                    method: method.to_ascii_uppercase(),
                    path: format!("{base}{path}"),
                    spec: spec.clone(),
                });
            }
        }
    }
    assert!(
        !found.is_empty(),
        "{} declares no operation",
        path.display()
    );
    found
}

/// The operation `id`; panics with the ids there are when it is missing.
pub fn operation(id: &str) -> Operation {
    let all = operations();
    let ids: Vec<&str> = all.iter().map(|operation| operation.id.as_str()).collect();
    let found = all.iter().find(|operation| operation.id == id).cloned();
    found.unwrap_or_else(|| panic!("the connector has no operation {id}; it has {ids:?}"))
}
