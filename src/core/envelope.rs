//! Envelope unwrapping, written once: Cloudflare's `{success, errors, messages, result}`.
//! (Hover's JSON:API documents are flattened in `hover::apps`, the only place that has them.)

use crate::core::error::ApiError;
use crate::core::run::Meta;
use crate::core::transport::Transport;
use crate::Error;

/// A generated Cloudflare success envelope, taken apart.
pub(crate) struct Parts<R> {
    pub(crate) success: bool,
    /// Empty when `success` is true.
    pub(crate) errors: Vec<ApiError>,
    /// Empty unless asked for.
    pub(crate) messages: Vec<ApiError>,
    pub(crate) result: Option<R>,
}

/// Implemented (by `cloudflare_types!`, which `build.rs` invokes for each envelope schema of a
/// Cloudflare spec) for each generated envelope type.
pub(crate) trait Envelope {
    type Result;
    /// The envelope taken apart; `messages` is left empty unless `want_messages`.
    fn into_parts(self, want_messages: bool) -> Parts<Self::Result>;
}

/// Non-fatal messages Cloudflare attached to a successful answer.
pub type MessageHandler = std::sync::Arc<dyn Fn(&crate::Endpoint, &[ApiError]) + Send + Sync>;

/// `result` of a successful envelope, passed through `check`; `success: false` (even on HTTP
/// 200) is an API error, and a missing `result` or a `check` failure a decode error. Messages
/// are logged and passed to `on_messages`.
pub(crate) fn unwrap<B: Envelope, T>(
    transport: &Transport,
    body: B,
    meta: Meta,
    on_messages: Option<&MessageHandler>,
    check: impl FnOnce(B::Result) -> Result<T, &'static str>,
) -> Result<T, Error> {
    // Messages are only converted for someone who will see them.
    let want_messages = on_messages.is_some() || tracing::enabled!(tracing::Level::INFO);
    let parts = body.into_parts(want_messages);
    if !parts.success {
        return Err(transport.failure(
            meta.endpoint(),
            meta.status,
            parts.errors,
            crate::core::map_error::Answer {
                request_id: meta.request_id(),
                ..Default::default()
            },
            None,
        ));
    }
    if !parts.messages.is_empty() {
        let endpoint = meta.endpoint();
        // Server text, scrubbed and bounded like errors before anyone sees it.
        let messages = transport.clean(parts.messages);
        for message in &messages {
            tracing::info!(operation = endpoint.operation, message = %message, "Cloudflare message");
        }
        if let Some(handler) = on_messages {
            handler(&endpoint, &messages);
        }
    }
    let Some(result) = parts.result else {
        let endpoint = meta.endpoint();
        let reason = format!(
            "`success` is true but `result` is missing or null, so {} has nothing to return; \
             the request may still have taken effect",
            endpoint.operation
        );
        return Err(transport.decode_error(endpoint, meta.status, &reason, None));
    };
    check(result)
        .map_err(|reason| transport.decode_error(meta.endpoint(), meta.status, reason, None))
}

/// Implements [`Envelope`] and the error-body conversion for one generated Cloudflare module.
///
/// List envelopes whose `result` may be null or absent yield an empty list instead.
macro_rules! cloudflare_types {
    ($module:path {
        single: [$($single:ident => $item:ty),*],
        list: [$($list:ident => $list_item:ty),*]
    }) => {
        const _: () = {
            use $module as generated;
            use $crate::core::envelope::{Envelope, IntoList, Parts};
            use $crate::core::error::ApiError;

            fn to_api_errors(list: generated::CloudflareMessages) -> Vec<ApiError> {
                list.0
                    .into_iter()
                    .map(|m| ApiError {
                        code: Some(m.code),
                        message: m.message,
                        documentation_url: m.documentation_url,
                        pointer: m.source.and_then(|s| s.pointer),
                    })
                    .collect()
            }

            /// An envelope's parts; a successful one's `errors` are not read, so not converted
            /// either, nor its `messages` unless someone listens.
            fn parts<T>(
                success: bool,
                errors: generated::CloudflareMessages,
                messages: generated::CloudflareMessages,
                want_messages: bool,
                result: Option<T>,
            ) -> Parts<T> {
                Parts {
                    success,
                    errors: if success { Vec::new() } else { to_api_errors(errors) },
                    messages: if want_messages { to_api_errors(messages) } else { Vec::new() },
                    result,
                }
            }

            impl $crate::core::error::ErrorBody for generated::CloudflareFailure {
                fn api_errors(self) -> Vec<ApiError> {
                    self.errors.map(to_api_errors).unwrap_or_default()
                }

                fn reports_failure(&self) -> bool {
                    self.success == Some(false)
                }
            }

            $(impl Envelope for generated::$single {
                type Result = $item;
                fn into_parts(self, want_messages: bool) -> Parts<Self::Result> {
                    parts(self.success, self.errors, self.messages, want_messages, self.result)
                }
            })*

            $(impl Envelope for generated::$list {
                type Result = Vec<$list_item>;
                fn into_parts(self, want_messages: bool) -> Parts<Self::Result> {
                    let result = Some(self.result.into_list());
                    parts(self.success, self.errors, self.messages, want_messages, result)
                }
            })*
        };
    };
}
pub(crate) use cloudflare_types;

/// A list `result` as generated: a plain `Vec`, or `Option<Vec>` where it is nullable.
pub(crate) trait IntoList<T> {
    fn into_list(self) -> Vec<T>;
}

impl<T> IntoList<T> for Vec<T> {
    fn into_list(self) -> Vec<T> {
        self
    }
}

impl<T> IntoList<T> for Option<Vec<T>> {
    fn into_list(self) -> Vec<T> {
        self.unwrap_or_default()
    }
}
