//! Reading a request body within limits of size and time.
//!
//! actix-web puts no time limit on a body once the request head has arrived, so a client that
//! stops sending, or sends a byte now and then, would hold its connection and the part of the
//! body already read for as long as it likes. The reader here bounds both.

use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::time::{Instant, timeout_at};

use super::problem::{ApiError, ProblemType};

/// How long reading a body may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyTimeouts {
    /// The longest wait for the next part of the body.
    pub idle: Duration,
    /// The longest time for the whole body, from the start of its reading.
    pub total: Duration,
}

/// The declared `Content-Length`, if any.
pub fn content_length(request: &HttpRequest) -> Option<u64> {
    let value = request.headers().get(CONTENT_LENGTH)?;
    value.to_str().ok()?.trim().parse().ok()
}

/// Refuses a body sent with any `Content-Encoding` but `identity` (RFC 9110 section 8.4) with
/// a 415 that names the coding. Bodies are not decoded: the PDF must arrive as it is, and the
/// size limit then counts the bytes that are held.
pub fn refuse_content_encoding(request: &HttpRequest) -> Result<(), ApiError> {
    for value in request.headers().get_all(CONTENT_ENCODING) {
        let Ok(text) = value.to_str() else {
            return Err(encoded("the Content-Encoding is not readable text"));
        };
        let coding = text
            .split(',')
            .map(str::trim)
            .find(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case("identity"));
        if let Some(coding) = coding {
            return Err(encoded(&format!(
                "Content-Encoding {coding:?} is not accepted"
            )));
        }
    }
    Ok(())
}

fn encoded(what: &str) -> ApiError {
    let detail = format!("{what}; send the body without a content coding (identity)");
    ApiError::new(ProblemType::UnsupportedMediaType, detail)
}

/// Reads a body of at most `limit` bytes within `timeouts`.
///
/// A larger declared length is refused before anything is read, and a body without one is
/// counted as it arrives and refused as soon as it passes the limit, so no more than `limit`
/// bytes are ever held. A body that stalls for longer than `timeouts.idle`, or is still
/// arriving after `timeouts.total`, is refused with a 408 and what was read is dropped.
pub async fn read_limited<S>(
    mut body: S,
    declared_bytes: Option<u64>,
    limit: u64,
    timeouts: BodyTimeouts,
) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    let too_large = || {
        let detail = format!("the request body is larger than the limit of {limit} bytes");
        ApiError::new(ProblemType::PayloadTooLarge, detail)
    };
    if declared_bytes.is_some_and(|declared| declared > limit) {
        return Err(too_large());
    }

    let deadline = Instant::now() + timeouts.total;
    let capacity = declared_bytes.unwrap_or(0).min(limit);
    let mut buffer = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
    loop {
        let idle_end = Instant::now() + timeouts.idle;
        let (wait_end, late) = match idle_end < deadline {
            true => (idle_end, Late::Stalled(timeouts.idle)),
            false => (deadline, Late::Overall(timeouts.total)),
        };
        let chunk = match timeout_at(wait_end, body.next()).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_elapsed) => return Err(late.into_error()),
        };

        let chunk = chunk.map_err(|error| {
            let detail = format!("the request body could not be read: {error}");
            ApiError::new(ProblemType::InvalidRequest, detail)
        })?;
        if (buffer.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.freeze())
}

/// Which time limit a body missed.
enum Late {
    /// No part of it arrived for this long.
    Stalled(Duration),
    /// It was not complete after this long.
    Overall(Duration),
}

impl Late {
    fn into_error(self) -> ApiError {
        let detail = match self {
            Self::Stalled(idle) => format!(
                "no part of the request body arrived for {idle:?}; send the body without pauses"
            ),
            Self::Overall(total) => {
                format!("the request body was not complete after {total:?}; send it faster")
            }
        };
        ApiError::new(ProblemType::RequestTimeout, detail)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::stream;

    use super::*;

    const PATIENT: BodyTimeouts = BodyTimeouts {
        idle: Duration::from_secs(60),
        total: Duration::from_secs(60),
    };

    fn chunks(sizes: &[usize]) -> impl Stream<Item = Result<Bytes, PayloadError>> + Unpin {
        let items: Vec<_> = sizes
            .iter()
            .map(|&n| Ok(Bytes::from(vec![b'x'; n])))
            .collect();
        stream::iter(items)
    }

    /// A body that sends a byte every `interval`, forever.
    fn trickle(interval: Duration) -> impl Stream<Item = Result<Bytes, PayloadError>> + Unpin {
        Box::pin(stream::unfold((), move |()| async move {
            tokio::time::sleep(interval).await;
            Some((Ok(Bytes::from_static(b"x")), ()))
        }))
    }

    fn request_encoded(values: &[&str]) -> HttpRequest {
        let mut request = actix_web::test::TestRequest::post();
        for value in values {
            request = request.append_header((CONTENT_ENCODING, *value));
        }
        request.to_http_request()
    }

    #[test]
    fn accepts_a_body_without_content_coding_or_marked_identity() {
        for values in [&[][..], &["identity"], &["Identity, identity"]] {
            assert!(
                refuse_content_encoding(&request_encoded(values)).is_ok(),
                "{values:?}"
            );
        }
    }

    #[test]
    fn refuses_any_other_content_coding_naming_it() {
        let cases = [
            (&["gzip"][..], "gzip"),
            (&["identity, br"], "br"),
            (&["identity", "deflate"], "deflate"),
        ];

        for (values, coding) in cases {
            let error = refuse_content_encoding(&request_encoded(values)).unwrap_err();

            assert_eq!(error.problem(), ProblemType::UnsupportedMediaType);
            assert!(
                error.to_string().contains(&format!("{coding:?}")),
                "{error}"
            );
        }
    }

    #[actix_web::test]
    async fn reads_a_body_within_the_limit() {
        let body = read_limited(chunks(&[3, 4]), None, 7, PATIENT)
            .await
            .unwrap();

        assert_eq!(body.len(), 7);
    }

    #[actix_web::test]
    async fn refuses_a_declared_length_over_the_limit_before_reading() {
        let never_polled = stream::pending();

        let error = read_limited(never_polled, Some(8), 7, PATIENT)
            .await
            .unwrap_err();

        assert_eq!(error.problem(), ProblemType::PayloadTooLarge);
    }

    #[actix_web::test]
    async fn refuses_a_body_without_length_as_soon_as_it_passes_the_limit() {
        let endless = stream::repeat_with(|| Ok(Bytes::from_static(b"0123456789")));

        let error = read_limited(endless, None, 25, PATIENT).await.unwrap_err();

        assert_eq!(error.problem(), ProblemType::PayloadTooLarge);
    }

    #[actix_web::test]
    async fn a_body_that_stalls_past_the_idle_timeout_is_a_request_timeout() {
        let stalled = chunks(&[3]).chain(stream::pending());
        let timeouts = BodyTimeouts {
            idle: Duration::from_millis(50),
            ..PATIENT
        };

        let error = read_limited(stalled, Some(7), 7, timeouts)
            .await
            .unwrap_err();

        assert_eq!(error.problem(), ProblemType::RequestTimeout);
        assert!(error.to_string().contains("no part"), "{error}");
    }

    #[actix_web::test]
    async fn a_body_that_trickles_past_the_overall_timeout_is_a_request_timeout() {
        let timeouts = BodyTimeouts {
            idle: Duration::from_millis(50),
            total: Duration::from_millis(150),
        };

        let error = read_limited(trickle(Duration::from_millis(10)), None, 1000, timeouts)
            .await
            .unwrap_err();

        assert_eq!(error.problem(), ProblemType::RequestTimeout);
        assert!(error.to_string().contains("not complete"), "{error}");
    }
}
