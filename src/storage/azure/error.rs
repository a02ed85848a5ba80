//! How the SDK's errors become [`StorageError`]s.
//!
//! The SDK's own messages are never passed on whole: the transport's errors quote the request
//! URL, and with a SAS credential that URL carries the signature. A message here is built from
//! the operation, the container or blob, the HTTP status and Azure's error code, and for a
//! failure without a response from the innermost cause, with anything that looks like a URL
//! cut out.

use azure_core::error::ErrorKind;
use azure_core::http::StatusCode;

use crate::storage::StorageError;

/// What an SDK call answered, reduced to what the mapping needs.
pub(super) fn status(error: &azure_core::Error) -> Option<u16> {
    error.http_status().map(u16::from)
}

/// Azure's error code (`BlobNotFound`, `AuthenticationFailed`, ...), when the answer had one.
pub(super) fn code(error: &azure_core::Error) -> Option<&str> {
    match error.kind() {
        ErrorKind::HttpResponse { error_code, .. } => error_code.as_deref(),
        _ => None,
    }
}

/// The general mapping: 403 is [`StorageError::AccessDenied`]; 408, 429, 5xx, lost connections
/// and timeouts are [`StorageError::Transient`]; anything else is [`StorageError::Failed`].
/// `operation` is a verb phrase ("read", "commit the output to"), `what` names the container,
/// blob or queue.
pub(super) fn map(operation: &str, what: &str, error: &azure_core::Error) -> StorageError {
    match error.kind() {
        ErrorKind::HttpResponse { status, .. } => {
            let answer = describe_answer(*status, code(error));
            let status = u16::from(*status);
            if status == 403 {
                StorageError::AccessDenied {
                    what: what.to_owned(),
                    reason: format!("{operation}: {answer}"),
                }
            } else if status == 408 || status == 429 || status >= 500 {
                StorageError::Transient(format!("could not {operation} {what}: {answer}"))
            } else {
                StorageError::Failed(format!("could not {operation} {what}: {answer}"))
            }
        }
        ErrorKind::Connection => StorageError::Transient(format!(
            "could not {operation} {what}: could not connect ({})",
            root_cause(error)
        )),
        ErrorKind::Io => StorageError::Transient(format!(
            "could not {operation} {what}: the connection failed ({})",
            root_cause(error)
        )),
        ErrorKind::Credential => StorageError::AccessDenied {
            what: what.to_owned(),
            reason: format!(
                "{operation}: could not get an access token for the service's identity ({})",
                root_cause(error)
            ),
        },
        ErrorKind::DataConversion | ErrorKind::Other => StorageError::Failed(format!(
            "could not {operation} {what}: {}",
            root_cause(error)
        )),
    }
}

/// `HTTP 404 BlobNotFound`, or `HTTP 404` when Azure gave no code.
fn describe_answer(status: StatusCode, code: Option<&str>) -> String {
    let status = u16::from(status);
    match code {
        Some(code) => format!("HTTP {status} {}", clean(code)),
        None => format!("HTTP {status}"),
    }
}

/// The innermost error's message, cleaned: for a lost connection that is the system's own
/// words ("Connection refused (os error 111)"), which name no URL.
fn root_cause(error: &azure_core::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    clean(&cause.to_string())
}

/// Cuts every word that holds `://` or `sig=` and every character that is not printable, so that
/// neither a URL with its SAS nor a control sequence reaches a message or a log line.
pub(super) fn clean(text: &str) -> String {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            if lower.contains("://") || lower.contains("sig=") || lower.contains("sig%3d") {
                "[url removed]".to_owned()
            } else {
                word.chars().filter(|c| !c.is_control()).collect()
            }
        })
        .collect();
    let mut cleaned = words.join(" ");
    if cleaned.len() > 300 {
        let mut end = 300;
        while !cleaned.is_char_boundary(end) {
            end -= 1;
        }
        cleaned.truncate(end);
        cleaned.push_str("...");
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http_error(status: u16, code: &str) -> azure_core::Error {
        ErrorKind::HttpResponse {
            status: StatusCode::from(status),
            error_code: Some(code.to_owned()),
            raw_response: None,
        }
        .into_error()
    }

    #[test]
    fn forbidden_is_access_denied_and_names_the_code() {
        let mapped = map(
            "read",
            "docs/a.pdf",
            &http_error(403, "AuthenticationFailed"),
        );

        let StorageError::AccessDenied { what, reason } = mapped else {
            panic!("expected AccessDenied, got {mapped:?}");
        };
        assert_eq!(what, "docs/a.pdf");
        assert_eq!(reason, "read: HTTP 403 AuthenticationFailed");
    }

    #[test]
    fn timeouts_throttling_and_server_errors_are_transient() {
        for status in [408, 429, 500, 503] {
            let mapped = map("read", "docs/a.pdf", &http_error(status, "ServerBusy"));

            assert!(mapped.is_transient(), "{status}: {mapped:?}");
        }
    }

    #[test]
    fn other_answers_fail_for_good() {
        for status in [400, 404, 409, 412] {
            let mapped = map("read", "docs/a.pdf", &http_error(status, "Whatever"));

            assert!(
                matches!(mapped, StorageError::Failed(_)),
                "{status}: {mapped:?}"
            );
        }
    }

    #[test]
    fn connection_errors_are_transient_and_lose_the_url() {
        let io = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused by http://127.0.0.1:1/a?sv=1&sig=SECRET",
        );
        let error = azure_core::Error::with_error(
            ErrorKind::Connection,
            io,
            "request to http://127.0.0.1:1/a?sig=SECRET failed",
        );

        let mapped = map("read", "docs/a.pdf", &error);

        assert!(mapped.is_transient());
        let text = mapped.to_string();
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("could not read docs/a.pdf"), "{text}");
    }

    #[test]
    fn clean_cuts_urls_signatures_and_control_characters() {
        assert_eq!(
            clean("bad https://x.test/?sig=abc and sig%3Dabc \u{1b}[31m end"),
            "bad [url removed] and [url removed] [31m end"
        );
        assert!(clean(&"x".repeat(1000)).len() < 310);
    }
}
