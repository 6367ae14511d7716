//! WebSocket adapters: bridges between an app's tracks and WebSocket endpoints, created and
//! closed per app (not per session).

use std::future::Future;

use super::batch::{item_error, none_unasked, plain, settle, Batch, Closed, Failed, Rules};
use super::model::{checked_session, refused, Location};
use super::ItemCode;
use super::RealtimeClient;
use crate::core::plan::Planned;
use crate::core::run::run;
use crate::generated::sfu::types as wire;
use crate::operations as ops;
use crate::{Error, SessionId};

/// Creates adapters (and sessions): never sent twice (`x-replay`).
const ADAPTERS_NEW: Planned = Planned::new(&ops::SFU_ADAPTERS_WEBSOCKET_NEW);
/// An adapter already closed counts as closed: sent again although a `POST` (`x-replay`).
const ADAPTERS_CLOSE: Planned = Planned::new(&ops::SFU_ADAPTERS_WEBSOCKET_CLOSE);

/// A WebSocket adapter to create: [`AdapterRequest::ingest`] (WebSocket → a new publisher
/// session) or [`AdapterRequest::stream`] (a published track → WebSocket).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdapterRequest {
    /// `Local`: ingest; `Remote`: stream out.
    pub location: Location,
    /// The track's name (non-empty).
    pub track_name: String,
    /// The `ws://` or `wss://` URL the SFU connects to.
    pub endpoint: String,
    /// The publishing session, for a stream.
    pub session_id: Option<SessionId>,
    /// What the stream sends: PCM audio or JPEG frames.
    pub output: Option<OutputCodec>,
}

/// Shows the endpoint without user info, path or query: a WebSocket endpoint often carries its
/// credentials there, since the SFU cannot send it headers.
impl std::fmt::Debug for AdapterRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let endpoint = reqwest::Url::parse(&self.endpoint)
            .ok()
            .and_then(|url| Some(format!("{}://{}/…", url.scheme(), url.host_str()?)))
            .unwrap_or_else(|| "[not a URL]".into());
        f.debug_struct("AdapterRequest")
            .field("location", &self.location)
            .field("track_name", &self.track_name)
            .field("endpoint", &endpoint)
            .field("session_id", &self.session_id)
            .field("output", &self.output)
            .finish()
    }
}

/// What a streaming adapter sends to its WebSocket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputCodec {
    /// 48 kHz stereo s16le PCM.
    Pcm,
    /// JPEG frames (video).
    Jpeg,
}

/// The most adapters one request may name.
pub const MAX_ADAPTERS_PER_REQUEST: usize = 4;

impl AdapterRequest {
    /// Ingests PCM audio from the WebSocket `endpoint` as the track `track_name` of a new
    /// publisher session.
    pub fn ingest(track_name: impl Into<String>, endpoint: impl Into<String>) -> Self {
        Self {
            location: Location::Local,
            track_name: track_name.into(),
            endpoint: endpoint.into(),
            session_id: None,
            output: None,
        }
    }

    /// Streams the track `track_name` of session `session_id` to the WebSocket `endpoint`.
    pub fn stream(
        session_id: impl Into<SessionId>,
        track_name: impl Into<String>,
        endpoint: impl Into<String>,
        output: OutputCodec,
    ) -> Self {
        Self {
            location: Location::Remote,
            track_name: track_name.into(),
            endpoint: endpoint.into(),
            session_id: Some(session_id.into()),
            output: Some(output),
        }
    }

    pub(crate) fn to_wire(&self) -> Result<wire::SfuNewAdapter, Error> {
        let scheme_ok = ["ws://", "wss://"].iter().any(|scheme| {
            self.endpoint
                .get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        });
        // The URL parser drops tabs and line breaks; the endpoint is sent as given, so it may
        // have none.
        let plain = !self
            .endpoint
            .chars()
            .any(|c| c.is_whitespace() || c.is_control());
        if !scheme_ok || !plain || reqwest::Url::parse(&self.endpoint).is_err() {
            return Err(refused(
                "an adapter's endpoint must be a ws:// or wss:// URL",
            ));
        }
        let endpoint = wire::SfuNewAdapterEndpoint::try_from(self.endpoint.clone())
            .map_err(|_| refused("an adapter's endpoint must not be empty"))?;
        let track_name = wire::SfuNewAdapterTrackName::try_from(self.track_name.clone())
            .map_err(|_| refused("an adapter's track name must not be empty"))?;
        let (session_id, input, output) = match self.location {
            Location::Local => (None, Some(wire::SfuNewAdapterInputCodec::Pcm), None),
            Location::Remote => {
                let (Some(session), Some(output)) = (&self.session_id, self.output) else {
                    return Err(refused(
                        "a streaming adapter needs its session and an output codec",
                    ));
                };
                let session = wire::SfuNewAdapterSessionId::try_from(checked_session(session)?)
                    .map_err(|_| refused("an adapter's session must not be empty"))?;
                let output = match output {
                    OutputCodec::Pcm => wire::SfuNewAdapterOutputCodec::Pcm,
                    OutputCodec::Jpeg => wire::SfuNewAdapterOutputCodec::Jpeg,
                };
                (Some(session), None, Some(output))
            }
        };
        Ok(wire::SfuNewAdapter {
            location: self.location.to_wire(),
            track_name,
            endpoint,
            session_id,
            input_codec: input,
            output_codec: output,
        })
    }

    pub(crate) fn names(&self, item: &wire::SfuAdapterResult) -> bool {
        item.track_name.as_deref() == Some(self.track_name.as_str())
            && item
                .location
                .as_deref()
                .is_none_or(|l| l == self.location.as_str())
    }
}

/// An adapter the SFU created.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdapterAnswer {
    /// Its ID, to close it.
    pub adapter_id: String,
    /// For an ingest adapter, the new session that publishes the track.
    pub session_id: Option<SessionId>,
}

/// An adapter closed (or closed already).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ClosedAdapter {
    /// Closed now, or already.
    pub closed: super::batch::Closed,
    /// The bytes it processed, when the SFU says (not the billing figure).
    pub bytes_processed: Option<f64>,
}

impl RealtimeClient {
    /// Creates 1 to [`MAX_ADAPTERS_PER_REQUEST`] WebSocket adapters. Never sent twice; an
    /// answer where every item failed (HTTP 503) is a batch of failures, not an error.
    pub async fn new_websocket_adapters(
        &self,
        adapters: Vec<AdapterRequest>,
    ) -> Result<Batch<AdapterRequest, AdapterAnswer>, Error> {
        let app = self.inner.app_id.segment()?;
        adapter_count(adapters.len())?;
        let body = wire::SfuNewAdapterRequest {
            tracks: adapters
                .iter()
                .map(AdapterRequest::to_wire)
                .collect::<Result<_, _>>()?,
        };
        let api = self.api(ADAPTERS_NEW);
        let (answer, status) = self
            .adapters(&api, || api.sfu_adapters_websocket_new(app, &body))
            .await?;
        let known = self.inner.transport.known();
        let rules = Rules {
            same: &|q: &AdapterRequest, a: &wire::SfuAdapterResult| q.names(a),
            anonymous: &|a| a.track_name.as_deref().is_none_or(str::is_empty),
            unasked: &none_unasked,
        };
        let all_failed = status == 503;
        Ok(settle(adapters, answer.tracks, rules, &known, |item| {
            if all_failed && item.error_code.is_none() {
                return Err(UNAVAILABLE);
            }
            plain(|item: wire::SfuAdapterResult| {
                Some(AdapterAnswer {
                    adapter_id: item.adapter_id.filter(|id| !id.is_empty())?,
                    // A streaming adapter's echoed session is the publisher's, not a new one.
                    session_id: item
                        .session_id
                        .filter(|_| item.location.as_deref() != Some("remote"))
                        .map(SessionId::new),
                })
            })(item)
        }))
    }

    /// Closes 1 to [`MAX_ADAPTERS_PER_REQUEST`] adapters. An adapter already closed counts as
    /// closed (ASSUMPTION: `adapter_not_found` means so; see the spec), so it is safe to send
    /// again.
    pub async fn close_websocket_adapters(
        &self,
        adapter_ids: &[&str],
    ) -> Result<Batch<String, ClosedAdapter>, Error> {
        let app = self.inner.app_id.segment()?;
        adapter_count(adapter_ids.len())?;
        let body = wire::SfuCloseAdapterRequest {
            tracks: adapter_ids
                .iter()
                .map(|id| {
                    wire::SfuCloseAdapterAdapterId::try_from(id.to_string())
                        .map(|adapter_id| wire::SfuCloseAdapter { adapter_id })
                        .map_err(|_| refused("an adapter ID must not be empty"))
                })
                .collect::<Result<_, _>>()?,
        };
        let api = self.api(ADAPTERS_CLOSE);
        let (answer, status) = self
            .adapters(&api, || api.sfu_adapters_websocket_close(app, &body))
            .await?;
        let known = self.inner.transport.known();
        let requests = adapter_ids.iter().map(|id| id.to_string()).collect();
        let rules = Rules {
            same: &|q: &String, a: &wire::SfuAdapterResult| {
                a.adapter_id.as_deref() == Some(q.as_str())
            },
            anonymous: &|a| a.adapter_id.as_deref().is_none_or(str::is_empty),
            unasked: &none_unasked,
        };
        let all_failed = status == 503;
        Ok(settle(requests, answer.tracks, rules, &known, |item| {
            let closed = match item.error_code.as_ref().map(|c| c.0.as_str()) {
                None if all_failed => return Err(UNAVAILABLE),
                None => Closed::Closed,
                Some("adapter_not_found") => Closed::AlreadyClosed,
                Some(code) => return Err(item_error(code, item.error_description)),
            };
            Ok(ClosedAdapter {
                closed,
                bytes_processed: item.bytes_processed.filter(|b| b.is_finite() && *b >= 0.0),
            })
        }))
    }

    /// Runs an adapter operation, with the answer's status: a 503 that carries items is the
    /// batch's answer (every item failed), not an error; an `errorCode` at the top of a 2xx is an
    /// error.
    async fn adapters<F, Fut>(
        &self,
        api: &crate::generated::sfu::Client,
        call: F,
    ) -> Result<(wire::SfuAdapterAnswer, u16), Error>
    where
        F: Fn() -> Fut,
        Fut: Future<
            Output = Result<
                progenitor_client::ResponseValue<wire::SfuAdapterAnswer>,
                progenitor_client::Error<wire::SfuAdapterAnswer>,
            >,
        >,
    {
        let (answer, meta) = run(api, None, || async {
            match call().await {
                Err(progenitor_client::Error::ErrorResponse(answer))
                    if answer.status() == 503 && !answer.tracks.is_empty() =>
                {
                    Ok(answer)
                }
                other => other,
            }
        })
        .await?;
        if meta.status != 503 {
            self.refuse_error_code(
                &meta,
                answer.error_code.clone(),
                answer.error_description.clone(),
            )?;
        }
        Ok((answer, meta.status))
    }
}

/// An item of an answer whose every item failed (HTTP 503) that gives no code of its own.
const UNAVAILABLE: Failed = (ItemCode::TemporarilyUnavailable, None);

fn adapter_count(count: usize) -> Result<(), Error> {
    if (1..=MAX_ADAPTERS_PER_REQUEST).contains(&count) {
        Ok(())
    } else {
        Err(refused(&format!(
            "a request names 1 to {MAX_ADAPTERS_PER_REQUEST} adapters, not {count}"
        )))
    }
}
