//! What a sample asks of one of the connector's operations, whatever the sample's kind, and
//! the check of it against the connector definition.

use serde_json::Value;

use super::support::connector_api::{Connector, Operation};

/// Headers that Swagger 2.0 states with `consumes`, `produces` and `securityDefinitions`
/// rather than as parameters.
const TRANSPORT_HEADERS: [&str; 4] = ["content-type", "accept", "authorization", "x-functions-key"];

/// One call of one of our operations in a sample.
#[derive(Debug, Default)]
pub struct Use {
    /// The sample and the step, for messages: `logic-apps/seal-workflow.json: Seal_PDF`.
    pub place: String,
    pub operation: Named,
    pub query: Vec<String>,
    pub headers: Vec<String>,
    /// Keys of a flow's `parameters`: a parameter's name, or `BODY/property/...` for a property
    /// of the JSON body parameter `BODY`.
    pub flow_keys: Vec<String>,
    pub body: Body,
    /// Power Apps: the positional arguments, and the field names of the record of optional
    /// parameters.
    pub positional: usize,
    pub options: Vec<String>,
    /// The property paths the sample reads from the operation's `200` answer.
    pub reads: Vec<Vec<String>>,
}

/// How a sample names the operation.
#[derive(Debug, Default)]
pub enum Named {
    #[default]
    Nothing,
    /// By `operationId` (Power Automate, Power Apps).
    Id(String),
    /// By method and path (Logic Apps, curl).
    Route { method: String, path: String },
}

impl Named {
    fn describe(&self) -> String {
        match self {
            Named::Nothing => "(none named)".to_owned(),
            Named::Id(id) => format!("{id:?}"),
            Named::Route { method, path } => format!("{method} {path}"),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Body {
    #[default]
    None,
    /// A body that is not a JSON object written out: file content, an expression.
    Opaque,
    /// A JSON object: the property path of each key in it, nested keys included.
    Keys(Vec<Vec<String>>),
}

impl Use {
    pub fn new(place: String, operation: Named) -> Use {
        Use {
            place,
            operation,
            ..Use::default()
        }
    }

    /// The operation this use names, if the connector has it.
    pub fn resolve<'a>(&self, connector: &'a Connector) -> Option<&'a Operation> {
        match &self.operation {
            Named::Nothing => None,
            Named::Id(id) => connector.by_id(id),
            Named::Route { method, path } => connector.by_route(method, path),
        }
    }

    /// Everything in this use that the connector does not have, one sentence each.
    pub fn problems(&self, connector: &Connector) -> Vec<String> {
        let Some(operation) = self.resolve(connector) else {
            return vec![format!(
                "{}: the connector has no operation {}",
                self.place,
                self.operation.describe()
            )];
        };
        let mut found = Vec::new();
        let mut problem = |text: String| found.push(format!("{}: {text}", self.place));

        let (mut query, mut headers, mut body) = (self.query.clone(), self.headers.clone(), None);
        for key in &self.flow_keys {
            match flow_key(operation, key) {
                Ok(FlowKey::Query(name)) => query.push(name),
                Ok(FlowKey::Header(name)) => headers.push(name),
                Ok(FlowKey::Path) => {}
                Ok(FlowKey::Body(path)) => body = Some(merge(body, path)),
                Err(text) => problem(text),
            }
        }
        let body = body.unwrap_or_else(|| self.body.clone());

        for name in &query {
            if operation.parameter(name, "query").is_none() {
                problem(format!(
                    "{} has no query parameter {name:?}",
                    operation.describe()
                ));
            }
        }
        for name in &headers {
            let transport = TRANSPORT_HEADERS.contains(&name.to_ascii_lowercase().as_str());
            if !transport && operation.parameter(name, "header").is_none() {
                problem(format!(
                    "{} has no header parameter {name:?}",
                    operation.describe()
                ));
            }
        }
        for text in body_problems(connector, operation, &body) {
            problem(text);
        }
        for text in self.power_apps_problems(operation) {
            problem(text);
        }
        for text in required_problems(operation, &query, &headers, &body, self) {
            problem(text);
        }
        for text in read_problems(connector, operation, &self.reads) {
            problem(text);
        }
        found
    }

    fn power_apps_problems(&self, operation: &Operation) -> Vec<String> {
        let mut found = Vec::new();
        for name in &self.options {
            match operation.named(name) {
                Some(p) if p.location != "body" && !p.required => {}
                _ => found.push(format!(
                    "{} has no optional parameter {name:?}",
                    operation.describe()
                )),
            }
        }
        found
    }
}

enum FlowKey {
    Query(String),
    Header(String),
    Path,
    Body(Body),
}

/// What a key of a flow action's `parameters` stands for: `file` is the parameter `file`;
/// `body/source/container` is the property `source/container` of the body parameter `body`
/// (flows flatten a JSON body into one key per property).
fn flow_key(operation: &Operation, key: &str) -> Result<FlowKey, String> {
    let mut parts = key.split('/');
    let name = parts.next().unwrap_or_default();
    let rest: Vec<String> = parts.map(str::to_owned).collect();
    let parameter = operation
        .named(name)
        .ok_or_else(|| format!("{} has no parameter {name:?}", operation.describe()))?;
    match (parameter.location.as_str(), rest.is_empty()) {
        ("query", true) => Ok(FlowKey::Query(name.to_owned())),
        ("header", true) => Ok(FlowKey::Header(name.to_owned())),
        ("path", true) => Ok(FlowKey::Path),
        ("body", true) => Ok(FlowKey::Body(Body::Opaque)),
        ("body", false) => Ok(FlowKey::Body(Body::Keys(vec![rest]))),
        (location, false) => Err(format!(
            "{key:?}: the parameter {name:?} of {} is in {location}, not a JSON body",
            operation.describe()
        )),
        (location, true) => Err(format!("{key:?}: a parameter in {location}")),
    }
}

fn merge(into: Option<Body>, more: Body) -> Body {
    match (into, more) {
        (Some(Body::Keys(mut keys)), Body::Keys(more)) => {
            keys.extend(more);
            Body::Keys(keys)
        }
        (_, more) => more,
    }
}

fn body_problems(connector: &Connector, operation: &Operation, body: &Body) -> Vec<String> {
    let declared = operation.body();
    match (body, declared) {
        (Body::None, _) => Vec::new(),
        (_, None) => vec![format!("{} takes no body", operation.describe())],
        (Body::Opaque, Some(_)) => Vec::new(),
        (Body::Keys(keys), Some(parameter)) => {
            let schema = parameter.schema.clone().unwrap_or(Value::Null);
            let unknown = keys
                .iter()
                .filter_map(|path| connector.has_property_path(&schema, path).err());
            let missing = connector
                .missing_required(&schema, keys)
                .into_iter()
                .map(|path| format!("the required property {path:?} is missing"));
            unknown
                .chain(missing)
                .map(|text| format!("the body of {}: {text}", operation.describe()))
                .collect()
        }
    }
}

/// The required parameters (and required body properties) that the use leaves out. Path
/// parameters are in the route itself; Power Apps passes the required ones by position.
fn required_problems(
    operation: &Operation,
    query: &[String],
    headers: &[String],
    body: &Body,
    using: &Use,
) -> Vec<String> {
    if using.positional > 0 || !using.options.is_empty() {
        let required = operation.parameters.iter().filter(|p| p.required).count();
        if using.positional != required {
            return vec![format!(
                "{} takes {required} required arguments, the call passes {}",
                operation.describe(),
                using.positional
            )];
        }
        return Vec::new();
    }
    let mut found = Vec::new();
    for parameter in operation.parameters.iter().filter(|p| p.required) {
        let given = match parameter.location.as_str() {
            "query" => query.contains(&parameter.name),
            "header" => headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&parameter.name)),
            "body" => *body != Body::None,
            _ => true,
        };
        if !given {
            found.push(format!(
                "{} needs the {} parameter {:?}",
                operation.describe(),
                parameter.location,
                parameter.name
            ));
        }
    }
    found
}

fn read_problems(
    connector: &Connector,
    operation: &Operation,
    reads: &[Vec<String>],
) -> Vec<String> {
    let Some(answer) = &operation.answer else {
        return reads
            .iter()
            .map(|path| {
                format!(
                    "reads {path:?} from {}, which answers no JSON",
                    operation.describe()
                )
            })
            .collect();
    };
    reads
        .iter()
        .filter_map(|path| connector.has_property_path(answer, path).err())
        .map(|text| format!("the answer of {}: {text}", operation.describe()))
        .collect()
}

/// The property path of every key in a JSON object, nested ones included, in document order.
pub fn key_paths(object: &Value) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    collect_key_paths(object, &mut Vec::new(), &mut paths);
    paths
}

fn collect_key_paths(value: &Value, prefix: &mut Vec<String>, paths: &mut Vec<Vec<String>>) {
    for (key, inner) in value.as_object().into_iter().flatten() {
        prefix.push(key.clone());
        paths.push(prefix.clone());
        collect_key_paths(inner, prefix, paths);
        prefix.pop();
    }
}
