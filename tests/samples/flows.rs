//! The operations that Power Automate flows and Logic Apps workflows call, read from their JSON
//! as Power Automate exports a flow (`properties.connectionReferences` and
//! `properties.definition`) and as the Logic Apps code view shows a workflow (`definition` and
//! `parameters.$connections`).

use serde_json::{Map, Value};

use super::uses::{Body, Named, Use, key_paths};

/// A call of an operation of another connector (SharePoint, Azure Blob Storage).
#[derive(Debug)]
pub struct ForeignCall {
    pub place: String,
    /// The connector's name, `shared_sharepointonline`.
    pub api: String,
    pub operation: String,
    pub parameters: Vec<String>,
}

/// What one flow or workflow calls: our operations, and those of other connectors.
#[derive(Debug, Default)]
pub struct Calls {
    pub ours: Vec<Use>,
    pub foreign: Vec<ForeignCall>,
}

/// The calls of a Power Automate flow. `ours` is the internal name Power Platform gives our
/// custom connector, up to its environment-specific suffix (`shared_pdf-20seal-5f`).
pub fn power_automate(sample: &str, flow: &Value, ours: &str) -> Result<Calls, String> {
    let references = flow["properties"]["connectionReferences"]
        .as_object()
        .ok_or("no properties.connectionReferences")?;
    let definition = &flow["properties"]["definition"];
    let mut calls = Calls::default();
    for (step, action) in steps(definition)? {
        let place = format!("{sample}: {step}");
        let kind = action["type"].as_str().unwrap_or_default();
        if !kind.starts_with("OpenApiConnection") {
            continue;
        }
        let host = &action["inputs"]["host"];
        let api = connector_of(references, host).map_err(|text| format!("{place}: {text}"))?;
        let operation = host["operationId"].as_str().unwrap_or_default().to_owned();
        let parameters = keys(&action["inputs"]["parameters"]);
        if api.starts_with(ours) {
            let mut using = Use::new(place, Named::Id(operation));
            using.flow_keys = parameters;
            using.reads = reads(definition, &step);
            calls.ours.push(using);
        } else {
            calls.foreign.push(ForeignCall {
                place,
                api,
                operation,
                parameters,
            });
        }
    }
    Ok(calls)
}

/// The connector an `OpenApiConnection` step calls: the `api.name` of the connection reference
/// that `host.connectionName` names, which `host.apiId` must end with.
fn connector_of(references: &Map<String, Value>, host: &Value) -> Result<String, String> {
    let reference = host["connectionName"].as_str().unwrap_or_default();
    let api = references
        .get(reference)
        .and_then(|r| r["api"]["name"].as_str())
        .ok_or_else(|| {
            format!("host.connectionName {reference:?} is not a connection reference")
        })?;
    let api_id = host["apiId"].as_str().unwrap_or_default();
    if api_id != format!("/providers/Microsoft.PowerApps/apis/{api}") {
        return Err(format!(
            "host.apiId {api_id:?} is not the API {api:?} of its reference"
        ));
    }
    Ok(api.to_owned())
}

/// The calls of a Logic Apps (Consumption) workflow: its `ApiConnection` steps whose connection
/// is to a custom connector (`Microsoft.Web/customApis`).
pub fn logic_apps(sample: &str, workflow: &Value) -> Result<Calls, String> {
    let connections = workflow["parameters"]["$connections"]["value"]
        .as_object()
        .ok_or("no parameters.$connections.value")?;
    let definition = &workflow["definition"];
    let mut calls = Calls::default();
    for (step, action) in steps(definition)? {
        let place = format!("{sample}: {step}");
        if action["type"] != "ApiConnection" {
            continue;
        }
        let inputs = &action["inputs"];
        let expression = inputs["host"]["connection"]["name"]
            .as_str()
            .unwrap_or_default();
        let name = connection_key(expression).ok_or_else(|| {
            format!("{place}: host.connection.name {expression:?} names no connection")
        })?;
        let id = connections
            .get(name)
            .and_then(|c| c["id"].as_str())
            .ok_or_else(|| format!("{place}: $connections has no {name:?} with an id"))?;
        let method = inputs["method"].as_str().unwrap_or_default().to_owned();
        let path = inputs["path"].as_str().unwrap_or_default().to_owned();
        if !id.contains("/providers/Microsoft.Web/customApis/") {
            let operation = format!("{method} {path}");
            let parameters = keys(&inputs["queries"]);
            calls.foreign.push(ForeignCall {
                place,
                api: id.to_owned(),
                operation,
                parameters,
            });
            continue;
        }
        let mut using = Use::new(place, Named::Route { method, path });
        using.query = keys(&inputs["queries"]);
        using.headers = keys(&inputs["headers"]);
        using.body = match &inputs["body"] {
            Value::Null => Body::None,
            Value::Object(_) => Body::Keys(key_paths(&inputs["body"])),
            _ => Body::Opaque,
        };
        using.reads = reads(definition, &step);
        calls.ours.push(using);
    }
    Ok(calls)
}

/// `KEY` of `@parameters('$connections')['KEY']['connectionId']`.
fn connection_key(expression: &str) -> Option<&str> {
    let rest = expression.strip_prefix("@parameters('$connections')['")?;
    let (key, rest) = rest.split_once("']")?;
    (rest == "['connectionId']").then_some(key)
}

/// Every trigger and action of a definition, nested ones included (in conditions, switches,
/// loops and scopes), by name.
fn steps(definition: &Value) -> Result<Vec<(String, &Value)>, String> {
    let mut found = Vec::new();
    for group in ["triggers", "actions"] {
        let steps = definition[group]
            .as_object()
            .ok_or_else(|| format!("the definition has no {group}"))?;
        collect_steps(steps, &mut found);
    }
    Ok(found)
}

fn collect_steps<'a>(steps: &'a Map<String, Value>, found: &mut Vec<(String, &'a Value)>) {
    for (name, step) in steps {
        found.push((name.clone(), step));
        let nested = [
            &step["actions"],
            &step["else"]["actions"],
            &step["default"]["actions"],
        ];
        for inner in nested.into_iter().filter_map(Value::as_object) {
            collect_steps(inner, found);
        }
        for case in step["cases"].as_object().into_iter().flatten() {
            if let Some(inner) = case.1["actions"].as_object() {
                collect_steps(inner, found);
            }
        }
    }
}

fn keys(object: &Value) -> Vec<String> {
    object
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect()
}

/// The property paths that expressions anywhere in `definition` read from the body of the step
/// `step`: `body('STEP')?['a']?['b']` and `outputs('STEP')?['body/a/b']` both read `a/b`.
fn reads(definition: &Value, step: &str) -> Vec<Vec<String>> {
    let text = definition.to_string();
    let mut found = Vec::new();
    for (function, in_body) in [("body", true), ("outputs", false)] {
        let call = format!("{function}('{step}')");
        for (at, _) in text.match_indices(&call) {
            let mut path = index_chain(&text[at + call.len()..]);
            if !in_body {
                // outputs('STEP') holds the status, the headers and the body.
                if path.first().map(String::as_str) != Some("body") {
                    continue;
                }
                path.remove(0);
            }
            if !path.is_empty() {
                found.push(path);
            }
        }
    }
    found
}

/// The keys of the indexing that follows an expression: `?['body/a']['b']` gives `body`, `a`,
/// `b` (flows write a path inside one key with `/`).
fn index_chain(mut text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    loop {
        text = text.strip_prefix('?').unwrap_or(text);
        let Some(rest) = text.strip_prefix("['") else {
            return keys;
        };
        let Some((key, rest)) = rest.split_once("']") else {
            return keys;
        };
        keys.extend(key.split('/').map(str::to_owned));
        text = rest;
    }
}
