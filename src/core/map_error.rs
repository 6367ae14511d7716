//! Turning what went wrong with a request into this crate's [`Error`]: an error answer into
//! the variant its status calls for, with the errors it lists made safe to show; a success
//! status whose body is not the operation's answer into a decode error; a transport error into
//! a message without the client's secrets.

use crate::core::error::{ApiError, Endpoint, ErrorBody, Failure};
use crate::core::plan::Planned;
use crate::core::request::Seen;
use crate::core::scrub;
use crate::core::transport::Transport;
use crate::Error;

/// What an answer's headers said, for an error.
#[derive(Clone, Default)]
pub(crate) struct Answer {
    pub(crate) request_id: Option<String>,
    pub(crate) retry_after: Option<std::time::Duration>,
    pub(crate) redirect_host: Option<String>,
}

impl Transport {
    /// Server-supplied errors or messages made safe to show and log: at most 20, each
    /// message at most 1 KiB, known secrets and JWTs removed, control characters escaped.
    pub(crate) fn clean(&self, mut errors: Vec<ApiError>) -> Vec<ApiError> {
        if errors.is_empty() {
            return errors;
        }
        let known = self.known();
        let dropped = errors.len().saturating_sub(scrub::MAX_MESSAGES);
        errors.truncate(scrub::MAX_MESSAGES);
        for error in &mut errors {
            error.message = scrub::message(&error.message, &known, scrub::MESSAGE_BYTES);
            for field in [&mut error.documentation_url, &mut error.pointer] {
                if let Some(text) = field.as_mut() {
                    *text = scrub::message(text, &known, scrub::SHORT_BYTES);
                }
            }
        }
        if dropped > 0 {
            errors.push(ApiError::message(format!("… and {dropped} more not shown")));
        }
        errors
    }

    fn snippet(&self, body: &[u8]) -> String {
        scrub::snippet(body, &self.known())
    }

    /// A failed answer, as the variant its status calls for.
    pub(crate) fn failure(
        &self,
        endpoint: Endpoint,
        status: u16,
        errors: Vec<ApiError>,
        answer: Answer,
        body: Option<&[u8]>,
    ) -> Error {
        // A 401 or 403 that is a web page, not an API answer, comes from something in front
        // of the API (Cloudflare's edge blocking the request): not a verdict on credentials.
        let page =
            errors.is_empty() && body.is_some_and(|b| b.trim_ascii_start().first() == Some(&b'<'));
        let failure = Box::new(Failure {
            endpoint,
            status,
            // An API that echoes the request can quote credentials in its messages.
            errors: self.clean(errors),
            request_id: answer.request_id,
            retry_after: answer.retry_after,
            body_snippet: body.map(|b| self.snippet(b)),
            redirect_host: answer.redirect_host,
            sent: true,
        });
        match status {
            401 | 403 if !page => Error::Auth(failure),
            404 => Error::NotFound(failure),
            429 => Error::RateLimited(failure),
            _ => Error::Api(failure),
        }
    }

    pub(crate) async fn map_error<E: ErrorBody>(
        &self,
        error: progenitor_client::Error<E>,
        seen: &Seen,
        op: Planned,
    ) -> Error {
        use progenitor_client::Error as P;
        let (endpoint, status, answer, too_large, limit) = {
            // A timeout reqwest reports is its connect timeout.
            let limit = self.connect_timeout;
            (
                seen.endpoint(self.provider, op),
                seen.status.map(|s| s.as_u16()),
                Answer {
                    request_id: seen.request_id.clone(),
                    retry_after: seen.retry_after,
                    redirect_host: seen.redirect_host.clone(),
                },
                seen.body_too_large,
                limit,
            )
        };
        if too_large {
            let reason = format!(
                "the body is larger than the {} byte limit",
                self.max_body_bytes
            );
            return self.decode_error(endpoint, status.unwrap_or(0), &reason, None);
        }
        match error {
            P::InvalidRequest(message) => Error::InvalidArgument(message),
            P::CommunicationError(e) | P::ResponseBodyError(e) | P::InvalidUpgrade(e) => {
                self.transport_error(endpoint, e, limit)
            }
            P::ErrorResponse(value) => {
                let status = value.status().as_u16();
                self.failure(
                    endpoint,
                    status,
                    value.into_inner().api_errors(),
                    answer,
                    None,
                )
            }
            P::InvalidResponsePayload(body, e) => {
                let status = status.unwrap_or(0);
                if let Some(failure) =
                    self.failure_on_success::<E>(&endpoint, status, &answer, &body)
                {
                    failure
                } else if (200..300).contains(&status) {
                    self.parse_error(endpoint, status, &e.to_string(), &body)
                } else {
                    self.failure(endpoint, status, Vec::new(), answer, Some(&body))
                }
            }
            P::UnexpectedResponse(response) => {
                let status = response.status().as_u16();
                let body = response.bytes().await.unwrap_or_default();
                if let Some(failure) =
                    self.failure_on_success::<E>(&endpoint, status, &answer, &body)
                {
                    failure
                } else if (200..300).contains(&status) {
                    let reason = format!("HTTP {status} is not an answer this operation documents");
                    self.parse_error(endpoint, status, &reason, &body)
                } else {
                    // An error envelope is small; a larger body is not parsed as one.
                    let errors = if body.len() <= scrub::SNIPPET_INPUT_BYTES {
                        serde_json::from_slice::<E>(&body)
                            .map(ErrorBody::api_errors)
                            .unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    let snippet_body = errors.is_empty().then_some(&body[..]);
                    self.failure(endpoint, status, errors, answer, snippet_body)
                }
            }
            P::Custom(message) => Error::Transport {
                endpoint: Box::new(endpoint),
                source: message.clone().into(),
                message: scrub::message(&message, &self.known(), scrub::MESSAGE_BYTES),
            },
        }
    }

    /// A success status whose body says the request failed (`success: false` on a status the
    /// operation does not document, or with a `result` its type does not allow): the API
    /// error it reports, not a decode error.
    fn failure_on_success<E: ErrorBody>(
        &self,
        endpoint: &Endpoint,
        status: u16,
        answer: &Answer,
        body: &[u8],
    ) -> Option<Error> {
        if !(200..300).contains(&status) || body.len() > scrub::SNIPPET_INPUT_BYTES {
            return None;
        }
        let parsed = serde_json::from_slice::<E>(body).ok()?;
        parsed.reports_failure().then(|| {
            self.failure(
                endpoint.clone(),
                status,
                parsed.api_errors(),
                answer.clone(),
                None,
            )
        })
    }

    /// A request the rate budget held back: no room for `wait`, which ends past its deadline.
    pub(crate) fn budget_refusal(&self, endpoint: Endpoint, wait: std::time::Duration) -> Error {
        Error::RateLimited(Box::new(Failure {
            endpoint,
            status: 429,
            errors: Vec::new(),
            request_id: None,
            retry_after: Some(wait),
            body_snippet: None,
            redirect_host: None,
            sent: false,
        }))
    }

    /// A success status whose body could not be used.
    pub(crate) fn decode_error(
        &self,
        endpoint: Endpoint,
        status: u16,
        reason: &str,
        body: Option<&[u8]>,
    ) -> Error {
        let known = self.known();
        Error::Decode {
            endpoint: Box::new(endpoint),
            status,
            // serde's messages quote values from the body, which may be secrets.
            reason: scrub::message(&scrub::without_values(reason), &known, scrub::MESSAGE_BYTES),
            body: body.map(|b| scrub::describe(b, &known)).unwrap_or_default(),
        }
    }

    /// A success status whose body did not parse as the operation's type.
    fn parse_error(&self, endpoint: Endpoint, status: u16, reason: &str, body: &[u8]) -> Error {
        let reason = if body.iter().all(u8::is_ascii_whitespace) {
            "the body is empty"
        } else if std::str::from_utf8(body).is_err() {
            "the body is not UTF-8"
        } else {
            reason
        };
        self.decode_error(endpoint, status, reason, Some(body))
    }

    fn transport_error(
        &self,
        endpoint: Endpoint,
        error: reqwest::Error,
        limit: std::time::Duration,
    ) -> Error {
        if error.is_timeout() {
            return Error::Timeout {
                endpoint: Box::new(endpoint),
                after: limit,
            };
        }
        let error = error.without_url();
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Error::Transport {
            endpoint: Box::new(endpoint),
            message: scrub::message(&message, &self.known(), scrub::MESSAGE_BYTES),
            source: Box::new(error),
        }
    }
}
