//! What the host relies on in `functions/`: the custom handler section of host.json, the one
//! catch-all HTTP function, and that it takes every operation of the connector.

use serde_json::{Value, json};

use super::support::connector_api::operations;
use super::support::functions_app::AppFiles;

/// The catch-all function: its name and its two bindings, checked to be an HTTP-only function
/// (one httpTrigger in, one http out), which is what HTTP proxying needs.
fn catch_all(app: &AppFiles) -> (&str, &Value) {
    assert_eq!(
        app.functions.len(),
        1,
        "one function expected: {:?}",
        app.functions
    );
    let (name, function) = &app.functions[0];
    let bindings = function["bindings"]
        .as_array()
        .expect("function.json has bindings");
    assert_eq!(bindings.len(), 2, "{name}: not HTTP-only: {function}");
    let output = bindings
        .iter()
        .find(|binding| binding["direction"] == "out");
    assert_eq!(
        output.map(|binding| &binding["type"]),
        Some(&json!("http")),
        "{name}: {function}"
    );
    let trigger = bindings.iter().find(|binding| binding["direction"] == "in");
    let trigger = trigger.unwrap_or_else(|| panic!("{name}: no input binding: {function}"));
    assert_eq!(trigger["type"], "httpTrigger", "{name}: {function}");
    (name, trigger)
}

/// The trigger's methods, upper case.
fn methods(trigger: &Value) -> Vec<String> {
    let methods = trigger["methods"]
        .as_array()
        .expect("the trigger lists its methods");
    methods
        .iter()
        .map(|method| method.as_str().unwrap().to_ascii_uppercase())
        .collect()
}

#[test]
fn host_json_starts_pdf_seal_serve_beside_it_as_a_proxying_custom_handler() {
    let app = AppFiles::read();
    let handler = &app.host["customHandler"];

    assert_eq!(app.host["version"], "2.0");
    assert_eq!(app.executable(), "pdf-seal", "the binary beside host.json");
    assert_eq!(app.arguments(), ["serve"]);
    assert_eq!(handler["enableProxyingHttpRequest"], true, "{handler}");
    assert!(
        handler.get("enableForwardingHttpRequest").is_none(),
        "the older forwarding flag is set too: {handler}"
    );
    assert!(
        handler.get("port").is_none(),
        "a fixed port would replace FUNCTIONS_CUSTOMHANDLER_PORT's free one: {handler}"
    );
    assert_eq!(app.route_prefix(), "api");
}

#[test]
fn one_anonymous_function_takes_every_path_under_the_route_prefix() {
    let app = AppFiles::read();

    let (name, trigger) = catch_all(&app);

    assert_eq!(trigger["route"], "{*path}", "{name}: {trigger}");
    // pdf-seal checks every caller itself and refuses to start under Functions without
    // PDF_SEAL_AUTH; a host key check would refuse the connector's calls, which carry a token.
    assert_eq!(trigger["authLevel"], "anonymous", "{name}: {trigger}");
}

#[test]
fn the_function_takes_the_method_and_path_of_every_connector_operation() {
    let app = AppFiles::read();
    let (name, trigger) = catch_all(&app);
    let methods = methods(trigger);
    let prefix = format!("/{}/", app.route_prefix());

    let operations = operations();

    for operation in &operations {
        assert!(
            methods.contains(&operation.method),
            "{name} does not take {} (operation {}); it takes {methods:?}",
            operation.method,
            operation.id
        );
        assert!(
            operation.path.starts_with(&prefix),
            "operation {} at {} is not under the route prefix {prefix}",
            operation.id,
            operation.path
        );
    }
    // The health probe that monitoring uses beside the connector's operations.
    for method in ["GET", "HEAD"] {
        assert!(
            methods.contains(&method.to_owned()),
            "{name}: no {method} for /api/health"
        );
    }
    let ids: Vec<&str> = operations
        .iter()
        .map(|operation| operation.id.as_str())
        .collect();
    for id in ["SealPdf", "SealBlobPdf", "GetSealJob", "TestConnection"] {
        assert!(ids.contains(&id), "the connector has no {id}: {ids:?}");
    }
}
