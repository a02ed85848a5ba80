//! The JSON schemas of the PowerPlatformConnectors repository, read in place from
//! `../shared/power-platform/` (its SOURCE.md names the commit and the licence), made readable
//! for a strict JSON parser and patched where they lag behind what the platform accepts.
//!
//! Every patch is listed in [`PATCHES`] with its reason and evidence, and a test checks that
//! each one is still needed, so that a patch the schemas no longer need gets noticed.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::fixture::shared_dir;

/// One of the published schemas, and the file of the connector package it judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    ApiDefinition,
    ApiProperties,
    Settings,
}

impl Schema {
    pub const ALL: [Schema; 3] = [
        Schema::ApiDefinition,
        Schema::ApiProperties,
        Schema::Settings,
    ];

    /// The schema's file name in `../shared/power-platform/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Schema::ApiDefinition => "apiDefinition.swagger.schema.json",
            Schema::ApiProperties => "paconn-apiProperties.schema.json",
            Schema::Settings => "paconn-settings.schema.json",
        }
    }

    /// The file of `connector/` that the schema judges.
    pub fn judges(self) -> &'static str {
        match self {
            Schema::ApiDefinition => "apiDefinition.swagger.json",
            Schema::ApiProperties => "apiProperties.json",
            Schema::Settings => "settings.json",
        }
    }
}

/// A value the platform accepts that a schema's list of allowed values lacks.
pub struct Patch {
    pub schema: Schema,
    /// JSON pointer to the `enum` array that gains `value`.
    pub pointer: &'static str,
    pub value: &'static str,
    /// Why the schema is wrong here.
    pub reason: &'static str,
    /// Where that shows.
    pub evidence: &'static str,
    /// What check-jsonschema says when the unpatched schema rejects our file for this reason.
    pub rejection: &'static str,
}

pub const PATCHES: [Patch; 1] = [Patch {
    schema: Schema::ApiProperties,
    pointer: "/definitions/oAuthSettings/properties/redirectMode/enum",
    value: "GlobalPerConnector",
    reason: "the platform's per-connector redirect URL, which our apiProperties.json asks for \
             (DESIGN.md section 7); the schema, last changed in 2024, knows only Global and \
             Direct",
    evidence: "certified connectors in microsoft/PowerPlatformConnectors use it, and a \
               Microsoft reviewer noted in that repository's pull request 3035 that it was not \
               yet in the public documentation (connector/README.md, Sources)",
    rejection: "'GlobalPerConnector' is not one of ['Global', 'Direct']",
}];

/// `schema` as published, with its `//` comments stripped: the strict parsers of the
/// validators refuse them.
pub fn published(schema: Schema) -> Value {
    let path = shared_dir().join("power-platform").join(schema.file_name());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "cannot read {} ({err}): the tests need ../shared beside the project root",
            path.display()
        )
    });
    serde_json::from_str(&strip_line_comments(&text))
        .unwrap_or_else(|err| panic!("{} is not JSON once stripped: {err}", path.display()))
}

/// `schema` with the `patches` that concern it, in its own file in `dir`, carrying a
/// `$comment` that says how it was made.
pub fn write_patched(schema: Schema, patches: &[&Patch], dir: &Path) -> PathBuf {
    let mut document = published(schema);
    let mut applied = Vec::new();
    for patch in patches.iter().filter(|patch| patch.schema == schema) {
        let values = document
            .pointer_mut(patch.pointer)
            .and_then(Value::as_array_mut)
            .unwrap_or_else(|| panic!("{} has no array at {}", schema.file_name(), patch.pointer));
        values.push(json!(patch.value));
        applied.push(format!("{} gains {}", patch.pointer, patch.value));
    }
    document["$comment"] = json!(format!(
        "Written by tests/connector_checks.rs from ../shared/power-platform/{}: `//` comments \
         stripped; patches: {}.",
        schema.file_name(),
        match applied.is_empty() {
            true => "none".to_owned(),
            false => applied.join("; "),
        }
    ));

    let path = dir.join(schema.file_name());
    std::fs::write(&path, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
    path
}

/// `text` without its `//` comments, which run to the end of the line. A `//` inside a string,
/// as in every URL of the schemas, stays.
pub fn strip_line_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '/' && chars.peek() == Some(&'/') {
            while chars.peek().is_some_and(|&next| next != '\n') {
                chars.next();
            }
        } else {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}
