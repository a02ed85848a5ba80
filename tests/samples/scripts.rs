//! The operations that the text samples call: the connector's functions in a Power Apps
//! formula, and the API path of each curl script.

use serde_json::Value;

use super::uses::{Body, Named, Use, key_paths};

/// Every call `CONNECTOR.Operation(...)` in a Power Fx formula, where `connector` is the name
/// Power Apps gives the connector's data source. Comments (`//` to the end of the line) are
/// skipped.
pub fn power_apps(sample: &str, formula: &str, connector: &str) -> Result<Vec<Use>, String> {
    let code: String = formula
        .lines()
        .map(|line| without_comment(line) + "\n")
        .collect();
    let prefix = format!("{connector}.");
    let mut uses = Vec::new();
    for (at, _) in code.match_indices(&prefix) {
        let rest = &code[at + prefix.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let after = rest[name.len()..].trim_start();
        let arguments = after
            .strip_prefix('(')
            .and_then(balanced)
            .ok_or_else(|| format!("{sample}: {connector}.{name} is not called with (...)"))?;

        let mut using = Use::new(format!("{sample}: {connector}.{name}"), Named::Id(name));
        for argument in split_top_level(arguments, ',') {
            let argument = argument.trim();
            match argument.strip_prefix('{').and_then(|a| a.strip_suffix('}')) {
                Some(record) => using.options.extend(record_fields(record)),
                None => using.positional += 1,
            }
        }
        uses.push(using);
    }
    Ok(uses)
}

/// The line up to a `//` that is not inside a string.
fn without_comment(line: &str) -> String {
    let mut in_string = false;
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '/' if previous == '/' && !in_string => return line[..at - 1].to_owned(),
            _ => {}
        }
        previous = c;
    }
    line.to_owned()
}

/// The text up to the `)` that closes an already opened `(`, strings and nesting respected.
fn balanced(text: &str) -> Option<&str> {
    let mut depth = 0;
    let mut in_string = false;
    for (at, c) in text.char_indices() {
        match c {
            '"' => in_string = !in_string,
            _ if in_string => {}
            '(' | '{' | '[' => depth += 1,
            ')' if depth == 0 => return Some(&text[..at]),
            ')' | '}' | ']' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// `text` cut at each `separator` outside brackets and strings.
fn split_top_level(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut in_string, mut start) = (0, false, 0);
    for (at, c) in text.char_indices() {
        match c {
            '"' => in_string = !in_string,
            _ if in_string => {}
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => depth -= 1,
            _ if c == separator && depth == 0 => {
                parts.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .collect()
}

/// The field names of a record's inside: `reason: x, location: "y"` gives `reason`, `location`.
fn record_fields(record: &str) -> Vec<String> {
    split_top_level(record, ',')
        .into_iter()
        .filter_map(|field| field.split_once(':'))
        .map(|(name, _)| name.trim().trim_matches('\'').to_owned())
        .collect()
}

/// The one API call of a curl sample: the literal `"$base_url/api/..."` it requests, with the
/// method of that curl command (`--request`, else `GET`), the `--url-query` names and
/// `--header` names in the script, and its body: the JSON of a `printf '{...}'` template, or
/// the file of `--data-binary`. Scripts are read as text, with `\` line continuations joined.
pub fn curl(sample: &str, script: &str) -> Result<Use, String> {
    let text = script.replace("\\\n", " ");
    let commands: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("\"$base_url/api/"))
        .collect();
    let [command] = commands[..] else {
        return Err(format!(
            "{sample}: calls the API {} times with a literal \"$base_url/api/...\"; a curl \
             sample makes one call",
            commands.len()
        ));
    };
    let start = command.find("\"$base_url/").unwrap_or_default() + "\"$base_url".len();
    let path = command[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned();
    let method = word_after(command, "--request ")
        .unwrap_or("GET")
        .to_owned();

    let mut using = Use::new(
        format!("{sample}: {method} {path}"),
        Named::Route { method, path },
    );
    using.query = names_after(&text, "--url-query \"", '=');
    using.headers = names_after(&text, "--header \"", ':');
    using.body = match json_template(&text).map_err(|text| format!("{sample}: {text}"))? {
        Some(template) => Body::Keys(key_paths(&template)),
        None if command.contains("--data-binary") => Body::Opaque,
        None => Body::None,
    };
    Ok(using)
}

fn word_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let at = text.find(marker)? + marker.len();
    text[at..].split_whitespace().next()
}

/// Each `NAME` of `MARKER NAME END` in the text, once.
fn names_after(text: &str, marker: &str, end: char) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (at, _) in text.match_indices(marker) {
        let rest = &text[at + marker.len()..];
        let name = rest.split(end).next().unwrap_or_default().to_owned();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The JSON object of the first `printf '{...}'` in the script, with each `%s` read as `0` (so
/// that `"%s"` and a bare `%s` both stay valid JSON).
fn json_template(text: &str) -> Result<Option<Value>, String> {
    let Some(at) = text.find("printf '{") else {
        return Ok(None);
    };
    let template = text[at + "printf '".len()..]
        .split('\'')
        .next()
        .unwrap_or_default();
    serde_json::from_str(&template.replace("%s", "0"))
        .map(Some)
        .map_err(|err| format!("the JSON body template {template:?} is not JSON: {err}"))
}
