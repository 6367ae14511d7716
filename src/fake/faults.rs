//! Faults: what they are, their JSON form for `POST /__fake/faults`, the queue they wait in,
//! and how each is answered, as the real edge or service sends it. Item faults, single items of
//! an SFU batch that fail inside its answer, are in [`items`].

mod items;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::resolve::Api;
use super::store::hex;
use crate::operations::Operation;
pub use items::ItemFault;
pub(crate) use items::ItemInjection;

/// A failure the fake answers with instead of serving a request, for testing your own error
/// handling. Each is sent as the real service (or Cloudflare's edge) sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this HTTP status and a provider-shaped error body (204 has none).
    Status(u16),
    /// Answer 429, with this `Retry-After` (whole seconds, rounded up) or, with `None`, without
    /// one, as Cloudflare sometimes does.
    RateLimited {
        /// How long the client is asked to wait, if at all.
        retry_after: Option<Duration>,
    },
    /// Answer 200 with a body that is not valid JSON (cut short).
    MalformedBody,
    /// Wait this long (at most 10 minutes), then serve the request normally.
    Stall(Duration),
    /// Cloudflare's edge block page: 403, `text/html`, a `cf-ray`, "Sorry, you have been
    /// blocked".
    WafBlock,
    /// A Cloudflare failure envelope (`success: false`) on HTTP 200. Cloudflare operations only.
    SuccessFalse,
    /// Serve the request, but close the connection halfway through the body (its
    /// `Content-Length` announces the whole). An answer without a body is sent as it is.
    ClosedMidBody,
    /// Serve the request, sending the body one byte at a time, this long apart (at most 10 s),
    /// for its first KiB; the rest follows at once (so that a trickle ends in bounded time).
    Trickle(Duration),
}

/// The most faults one injection may queue, and the most waiting for one operation.
pub(crate) const MAX_QUEUED: usize = 10_000;
const LONGEST_STALL: Duration = Duration::from_secs(600);
const SLOWEST_TRICKLE: Duration = Duration::from_secs(10);
/// How much of a body a trickle sends a byte at a time.
const TRICKLED_BYTES: usize = 1024;

/// Faults waiting, per operation, in order; item faults as (fault, items left) per injection.
#[derive(Default)]
pub(crate) struct Faults {
    queues: HashMap<&'static str, VecDeque<Fault>>,
    items: HashMap<&'static str, VecDeque<(ItemFault, usize)>>,
}

impl Faults {
    /// Queues `count` faults for `operation`, or says why not.
    pub(crate) fn inject(
        &mut self,
        operation: &str,
        count: usize,
        fault: Fault,
    ) -> Result<usize, String> {
        let operation = Operation::by_id(operation).ok_or_else(|| {
            let all: Vec<&str> = crate::operations::ALL.iter().map(|op| op.id).collect();
            format!(
                "unknown operation {operation:?}; the fake serves {}",
                all.join(", ")
            )
        })?;
        check(&fault, operation)?;
        let operation = operation.id;
        if count == 0 || count > MAX_QUEUED {
            return Err(format!("count must be 1 to {MAX_QUEUED}, not {count}"));
        }
        let queue = self.queues.entry(operation).or_default();
        if queue.len() + count > MAX_QUEUED {
            return Err(format!(
                "{operation} already has {} faults waiting; at most {MAX_QUEUED} may wait",
                queue.len()
            ));
        }
        queue.extend(std::iter::repeat_n(fault, count));
        Ok(queue.len())
    }

    /// The next fault for `operation`, consumed.
    pub(crate) fn take(&mut self, operation: &str) -> Option<Fault> {
        self.queues.get_mut(operation)?.pop_front()
    }

    pub(crate) fn pending(&self, operation: &str) -> usize {
        self.queues.get(operation).map_or(0, VecDeque::len)
    }

    /// Removes every fault, item faults included.
    pub(crate) fn clear(&mut self) {
        self.queues.clear();
        self.items.clear();
    }

    /// How many faults wait, per operation.
    pub(crate) fn waiting(&self) -> serde_json::Map<String, serde_json::Value> {
        self.queues
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|(op, q)| (op.to_string(), json!(q.len())))
            .collect()
    }
}

/// Whether `fault` makes sense for `operation`, and is within the fake's limits.
fn check(fault: &Fault, operation: &Operation) -> Result<(), String> {
    match fault {
        // A 1xx is not an answer: hyper would send a 500 while the log said otherwise.
        Fault::Status(code) if !(200..=599).contains(code) => {
            Err(format!("status must be 200 to 599, not {code}"))
        }
        Fault::Stall(wait) if *wait > LONGEST_STALL => {
            Err("stall_ms must be at most 600000".into())
        }
        Fault::Trickle(gap) if *gap > SLOWEST_TRICKLE => {
            Err("trickle_ms must be at most 10000".into())
        }
        Fault::Trickle(gap) if gap.is_zero() => Err("trickle_ms must be at least 1".into()),
        Fault::RateLimited {
            retry_after: Some(wait),
        } if *wait > Duration::from_secs(86_400) => {
            Err("retry_after_secs must be at most 86400".into())
        }
        Fault::SuccessFalse if Api::of(operation) != Api::Cloudflare => Err(format!(
            "success_false is a Cloudflare API envelope; {} has none",
            operation.id
        )),
        _ => Ok(()),
    }
}

/// The JSON body of `POST /__fake/faults`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Injection {
    pub(crate) operation: String,
    #[serde(default = "one")]
    pub(crate) count: usize,
    pub(crate) fault: FaultSpec,
}

fn one() -> usize {
    1
}

/// A fault as JSON: `{"status": 503}`, `{"rate_limited": {"retry_after_secs": 2}}`,
/// `{"rate_limited": {}}`, `"malformed_body"`, `{"stall_ms": 2000}`, `"waf_block"`,
/// `"success_false"`, `"closed_mid_body"`, `{"trickle_ms": 100}`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum FaultSpec {
    Status(u16),
    RateLimited {
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    MalformedBody,
    StallMs(u64),
    WafBlock,
    SuccessFalse,
    ClosedMidBody,
    TrickleMs(u64),
}

impl From<FaultSpec> for Fault {
    fn from(spec: FaultSpec) -> Self {
        match spec {
            FaultSpec::Status(code) => Fault::Status(code),
            FaultSpec::RateLimited { retry_after_secs } => Fault::RateLimited {
                retry_after: retry_after_secs.map(Duration::from_secs),
            },
            FaultSpec::MalformedBody => Fault::MalformedBody,
            FaultSpec::StallMs(ms) => Fault::Stall(Duration::from_millis(ms)),
            FaultSpec::WafBlock => Fault::WafBlock,
            FaultSpec::SuccessFalse => Fault::SuccessFalse,
            FaultSpec::ClosedMidBody => Fault::ClosedMidBody,
            FaultSpec::TrickleMs(ms) => Fault::Trickle(Duration::from_millis(ms)),
        }
    }
}

/// How a fault changes an answer: replaces it, or alters how the normal one is sent.
pub(crate) enum Effect {
    Replace(Response),
    Delay(Duration),
    CloseMidBody,
    Trickle(Duration),
}

/// What `fault` does to a request of an operation whose errors have this `style`.
pub(crate) fn effect(fault: Fault, api: Api) -> Effect {
    let cloudflare = api == Api::Cloudflare;
    let error = |status: StatusCode, code: u32, message: &str| match api {
        Api::Cloudflare => super::cloudflare::error_envelope(status, &[(code, message)]),
        Api::Realtime => super::cloudflare::turn::error(status, &code.to_string(), message),
        Api::Hover => super::hover::error(status, message),
    };
    Effect::Replace(match fault {
        Fault::Stall(wait) => return Effect::Delay(wait),
        Fault::ClosedMidBody => return Effect::CloseMidBody,
        Fault::Trickle(gap) => return Effect::Trickle(gap),
        Fault::MalformedBody => {
            let cut = if cloudflare {
                r#"{"success": true, "errors": [], "messages": [], "result": {"uid": "#
            } else {
                r#"{"data": {"id": "43120", "type": "app", "attributes": {"#
            };
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                cut,
            )
                .into_response()
        }
        Fault::RateLimited { retry_after } => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                971,
                if cloudflare {
                    "Please wait and consider throttling your request speed"
                } else {
                    "Too many requests"
                },
            );
            let headers = response.headers_mut();
            if let Some(wait) = retry_after {
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            if api != Api::Hover {
                headers.insert(
                    "ratelimit",
                    HeaderValue::from_static("\"default\";r=0;t=30"),
                );
                headers.insert(
                    "ratelimit-policy",
                    HeaderValue::from_static("\"default\";q=1200;w=300"),
                );
            }
            response
        }
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status == StatusCode::NO_CONTENT {
                return Effect::Replace(status.into_response());
            }
            let reason = status.canonical_reason().unwrap_or("Injected fault");
            error(status, 10_000 + u32::from(code), reason)
        }
        Fault::SuccessFalse => super::cloudflare::error_envelope(
            StatusCode::OK,
            &[(10_001, "The request could not be completed")],
        ),
        Fault::WafBlock => waf_block_page(),
    })
}

/// Cloudflare's block page, as its edge sends it (403, HTML, `cf-ray`).
fn waf_block_page() -> Response {
    let ray = format!("{}-FAKE", hex(16));
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en-US\"><head><title>Attention Required! | Cloudflare\
         </title><link rel=\"stylesheet\" href=\"/cdn-cgi/styles/cf.errors.css\"></head>\n<body>\
         <div id=\"cf-wrapper\"><h1 data-translate=\"block_headline\">Sorry, you have been \
         blocked</h1><h2>You are unable to access api.cloudflare.com</h2><p>Cloudflare Ray ID: \
         <strong>{ray}</strong></p></div></body></html>\n"
    );
    let mut response = (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        page,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&ray) {
        response.headers_mut().insert("cf-ray", value);
    }
    response
        .headers_mut()
        .insert(header::SERVER, HeaderValue::from_static("cloudflare"));
    response
}

/// `response`, its body sent by `send` instead of at once: the whole `Content-Length` is
/// announced first.
pub(crate) async fn reshape(response: Response, effect: Effect) -> Response {
    let (mut parts, body) = response.into_parts();
    // The answer is in memory already (the request log read it); this takes it as it is.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if bytes.is_empty() {
        return Response::from_parts(parts, Body::empty());
    }
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let body = match effect {
        Effect::CloseMidBody => {
            let half = bytes.slice(..bytes.len() / 2);
            let stream = futures_util::stream::unfold(Some(half), |half| async move {
                match half {
                    Some(half) => Some((Ok(half), None)),
                    None => {
                        // Long enough for the head and the first half to be on the wire.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Some((
                            Err(std::io::Error::new(
                                std::io::ErrorKind::ConnectionAborted,
                                "closed mid-body (injected fault)",
                            )),
                            None,
                        ))
                    }
                }
            });
            Body::from_stream(stream)
        }
        Effect::Trickle(gap) => {
            let stream = futures_util::stream::unfold(0usize, move |at| {
                let bytes = bytes.clone();
                async move {
                    if at >= bytes.len() {
                        return None;
                    }
                    if at > 0 {
                        tokio::time::sleep(gap).await;
                    }
                    // One byte at a time for the first KiB, then the rest.
                    let end = if at < TRICKLED_BYTES {
                        at + 1
                    } else {
                        bytes.len()
                    };
                    Some((Ok::<_, std::io::Error>(bytes.slice(at..end)), end))
                }
            });
            Body::from_stream(stream)
        }
        _ => Body::from(bytes),
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Fault, String> {
        serde_json::from_str::<Injection>(json)
            .map(|i| i.fault.into())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_json_form_parses() {
        let forms = [
            (r#"{"status": 503}"#, Fault::Status(503)),
            (
                r#"{"rate_limited": {"retry_after_secs": 2}}"#,
                Fault::RateLimited {
                    retry_after: Some(Duration::from_secs(2)),
                },
            ),
            (
                r#"{"rate_limited": {}}"#,
                Fault::RateLimited { retry_after: None },
            ),
            (r#""malformed_body""#, Fault::MalformedBody),
            (
                r#"{"stall_ms": 2000}"#,
                Fault::Stall(Duration::from_secs(2)),
            ),
            (r#""waf_block""#, Fault::WafBlock),
            (r#""success_false""#, Fault::SuccessFalse),
            (r#""closed_mid_body""#, Fault::ClosedMidBody),
            (
                r#"{"trickle_ms": 50}"#,
                Fault::Trickle(Duration::from_millis(50)),
            ),
        ];
        for (form, expected) in forms {
            let json = format!(r#"{{"operation": "hover-apps-get", "count": 2, "fault": {form}}}"#);
            assert_eq!(parse(&json), Ok(expected), "{form}");
        }
        let unknown = parse(r#"{"operation": "hover-apps-get", "fault": "explode"}"#).unwrap_err();
        assert!(
            unknown.contains("unknown variant") && unknown.contains("waf_block"),
            "{unknown}"
        );
        assert!(
            parse(r#"{"operation": "hover-apps-get", "fault": {"status": 503}, "extra": 1}"#)
                .is_err()
        );
    }

    #[test]
    fn absurd_injections_are_refused() {
        let mut faults = Faults::default();
        assert!(faults
            .inject("hover-apps-get", MAX_QUEUED + 1, Fault::MalformedBody)
            .is_err());
        assert!(faults
            .inject("hover-apps-get", 0, Fault::MalformedBody)
            .is_err());
        assert!(faults
            .inject("nope", 1, Fault::MalformedBody)
            .unwrap_err()
            .contains("calls-apps-list"));
        for status in [0, 100, 101, 103, 199, 600, 1000] {
            assert!(
                faults
                    .inject("hover-apps-get", 1, Fault::Status(status))
                    .is_err(),
                "{status}"
            );
        }
        assert!(faults
            .inject("hover-apps-get", 1, Fault::Status(200))
            .is_ok());
        assert!(faults
            .inject("hover-apps-get", 1, Fault::Status(599))
            .is_ok());
        faults.clear();
        assert!(faults
            .inject("hover-apps-get", 1, Fault::Stall(Duration::from_secs(3600)))
            .is_err());
        assert!(faults
            .inject("hover-apps-get", 1, Fault::SuccessFalse)
            .is_err());
        assert_eq!(
            faults.inject("hover-apps-get", MAX_QUEUED, Fault::MalformedBody),
            Ok(MAX_QUEUED)
        );
        assert!(
            faults
                .inject("hover-apps-get", 1, Fault::MalformedBody)
                .is_err(),
            "the queue is full"
        );
    }
}
