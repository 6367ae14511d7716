//! The fake Realtime SFU (Calls' data plane) under `/v1/apps/{app_id}`: sessions, media
//! tracks, data channels and WebSocket adapters, authorized by the secret of a Calls app the
//! fake's management API created. A state machine, not a media server: SDPs are plausible and
//! opaque (one `m=` section per transceiver), nothing is sent over the network.
//!
//! Errors are `{"errorCode", "errorDescription"}`, as Cloudflare's error codes page has them:
//! - 401 `unauthorized`: the bearer is not the secret of the app in the path.
//! - 400 `decoding_error` "JSON body validation error": a body that is not JSON, has a key the
//!   API does not know (a mis-cased `trackname` too) or a value of the wrong type, as Cloudflare
//!   checks bodies. Also `datachannels/establish` a second time ("data channel transport already
//!   established") and `datachannels/new` before it (ASSUMPTION: a request-level error, not one
//!   per item).
//! - 400 `invalid_session_description`: an SDP missing, of the wrong type or not starting with
//!   `v=`, or an answer (renegotiate) when no offer of the SFU waits for one, e.g. replayed.
//! - 406 `invalid_params`: a field missing or empty, more than 64 tracks (1-4 adapters) in a
//!   request, `maxRetransmits` with `maxPacketLifeTime`; and the fake's own limits (ASSUMPTION,
//!   Cloudflare documents none): 256 live sessions per app and 2,000 in all, 256 tracks and 256
//!   data channels per session (closed ones included: they stay listed), 64 KiB per session,
//!   64 live adapters per app, and the store's 8 MiB. Nothing changes when a request is refused.
//! - 406 `invalid_session_description` (ASSUMPTION on the code; [NEG] gives the status): a
//!   negotiation while the SFU's offer still waits for its answer.
//! - 404 `not_found` (ASSUMPTION: undocumented): a session this app never had (another app's
//!   sessions are not found either).
//! - 410 `session_error` "session expired": a session unused for the configured idle time
//!   ([`FakeConfig::sfu_session_idle`](crate::fake::FakeConfig::sfu_session_idle)).
//!
//! Per-item errors come in a 200 (the adapters' 503 when every item failed), and item faults
//! (`POST /__fake/item-faults`) fail items the same way.
//!
//! ASSUMPTIONS besides: `thirdparty` and `correlationId` are accepted and change nothing; a
//! body of `sessions/new` is ignored; `autoDiscover`, `simulcast`, `bidirectionalMediaStream`,
//! data channel settings (`ordered`, ...) are checked for their type and change nothing seen;
//! publishing needs the endpoint's offer (no SFU-generated offer for local tracks).

mod adapters;
mod channels;
#[cfg(feature = "fake-media")]
pub(crate) mod media;
mod tracks;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::turn::error;
use crate::fake::faults::ItemFault;
use crate::fake::resolve::{Params, Route};
use crate::fake::store::sfu::{fits, Location, Lookup, Session};
use crate::fake::store::{hex, Store, Weight};
use crate::fake::State;
use crate::operations::{self as ops, Operation};

/// The most tracks one request may name, as Cloudflare documents.
const MAX_TRACKS_PER_REQUEST: usize = 64;

pub(crate) const ROUTES: &[Route] = &[
    (&ops::SFU_SESSIONS_NEW, new_session),
    (&ops::SFU_SESSION_GET, get_session),
    (&ops::SFU_TRACKS_NEW, tracks::new),
    (&ops::SFU_RENEGOTIATE, tracks::renegotiate),
    (&ops::SFU_TRACKS_CLOSE, tracks::close),
    (&ops::SFU_TRACKS_UPDATE, tracks::update),
    (&ops::SFU_DATACHANNELS_ESTABLISH, channels::establish),
    (&ops::SFU_DATACHANNELS_NEW, channels::new),
    (&ops::SFU_DATACHANNELS_UPDATE, channels::update),
    (&ops::SFU_DATACHANNELS_CLOSE, channels::close),
    (&ops::SFU_ADAPTERS_WEBSOCKET_NEW, adapters::new),
    (&ops::SFU_ADAPTERS_WEBSOCKET_CLOSE, adapters::close),
];

/// `None` when the bearer is the secret of the Calls app in the path (compared in constant
/// time), the 401 otherwise.
pub(crate) fn authorize(state: &State, params: &Params, headers: &HeaderMap) -> Option<Response> {
    let store = state.store();
    let expected = store.calls_app_secret(params.get("app_id"));
    super::turn::require_bearer(
        headers,
        expected,
        "the bearer is not the secret of this Calls app",
    )
}

/// An answer, with the `vary` header the spec declares on every one.
fn answer(status: StatusCode, body: impl Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Origin"));
    response
}

fn ok(body: impl Serialize) -> Response {
    answer(StatusCode::OK, body)
}

fn decoding_error() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "decoding_error",
        "JSON body validation error",
    )
}

fn invalid_params(description: &str) -> Response {
    error(StatusCode::NOT_ACCEPTABLE, "invalid_params", description)
}

fn invalid_sdp(description: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_session_description",
        description,
    )
}

/// A negotiation while another one waits for the endpoint's answer.
fn negotiating() -> Response {
    error(
        StatusCode::NOT_ACCEPTABLE,
        "invalid_session_description",
        "a negotiation is in progress: answer the SFU's offer (renegotiate) first",
    )
}

/// The request body as `T`, checked as strictly as Cloudflare does.
fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|_| decoding_error())
}

/// A session description as a request carries it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Description {
    sdp: Option<String>,
    #[serde(rename = "type")]
    kind: Option<SdpType>,
}

#[derive(Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum SdpType {
    Offer,
    Answer,
}

/// The SDP text of `description` if it is of type `want` and looks like an SDP.
fn sdp_of(description: Option<&Description>, want: SdpType) -> Option<&str> {
    let description = description?;
    let sdp = description.sdp.as_deref()?;
    (description.kind == Some(want) && sdp.starts_with("v=")).then_some(sdp)
}

/// A session description as the SFU answers it.
#[derive(Serialize)]
struct Sdp {
    #[serde(rename = "type")]
    kind: &'static str,
    sdp: String,
}

/// A transceiver in an SDP the SFU writes: mid, media (`audio`, `video`, `application`) and
/// direction as the SFU sees it.
type Media = (String, String, &'static str);

/// An SDP of the SFU (`offer` or `answer`): plausible and opaque, one `m=` section per
/// transceiver.
fn sdp(kind: &'static str, media: &[Media]) -> Sdp {
    let mids: Vec<&str> = media.iter().map(|(mid, _, _)| mid.as_str()).collect();
    let mut text = format!(
        "v=0\r\no=- {} 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
        fastrand::u64(1..1 << 62)
    );
    if !mids.is_empty() {
        text.push_str(&format!("a=group:BUNDLE {}\r\n", mids.join(" ")));
    }
    let fingerprint: Vec<String> = (0..32)
        .map(|_| format!("{:02X}", fastrand::u8(..)))
        .collect();
    let (ufrag, pwd) = (hex(8), hex(24));
    let setup = if kind == "offer" {
        "actpass"
    } else {
        "passive"
    };
    for (mid, what, direction) in media {
        let (line, codec) = match what.as_str() {
            "video" => (
                "m=video 9 UDP/TLS/RTP/SAVPF 96",
                "a=rtpmap:96 VP8/90000\r\n",
            ),
            "application" => (
                "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
                "a=sctp-port:5000\r\n",
            ),
            _ => (
                "m=audio 9 UDP/TLS/RTP/SAVPF 111",
                "a=rtpmap:111 opus/48000/2\r\n",
            ),
        };
        text.push_str(&format!(
            "{line}\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\n\
             a=fingerprint:sha-256 {}\r\na=setup:{setup}\r\na=mid:{mid}\r\n{codec}",
            fingerprint.join(":")
        ));
        if what != "application" {
            text.push_str(&format!("a={direction}\r\na=rtcp-mux\r\n"));
        }
    }
    Sdp { kind, sdp: text }
}

/// The media of each mid in an endpoint's SDP (`m=video ...` then `a=mid:1`: `("1", "video")`).
fn media_of(sdp: &str) -> Vec<(String, String)> {
    let mut current = String::new();
    let mut found = Vec::new();
    for line in sdp.lines() {
        if let Some(rest) = line.strip_prefix("m=") {
            current = rest.split(' ').next().unwrap_or_default().to_string();
        } else if let Some(mid) = line.strip_prefix("a=mid:") {
            found.push((mid.trim().to_string(), current.clone()));
        }
    }
    found
}

/// The store's key of a session: (app, session).
type Key = (String, String);

/// The session a request names, touched (its idle time starts again) and copied to be
/// changed; the 404 or 410 if it is not live.
fn open(store: &mut Store, state: &State, params: &Params) -> Result<(Key, Session), Response> {
    let key = (
        params.get("app_id").to_string(),
        params.get("session_id").to_string(),
    );
    let now = Instant::now();
    match store.sfu.lookup(&key, now, state.sfu_session_idle) {
        Lookup::Live => {}
        Lookup::Expired => {
            #[cfg(feature = "fake-media")]
            media::forget(state, &key);
            return Err(error(StatusCode::GONE, "session_error", "session expired"));
        }
        Lookup::Unknown => return Err(not_found()),
    }
    store.sfu.sessions.update(&key, |s| s.last_used = now);
    match store.sfu.sessions.get(&key) {
        Some(session) => Ok((key, session.clone())),
        None => Err(not_found()),
    }
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "session not found in this app",
    )
}

/// Stores `session` as the new state of `key`, or refuses (nothing changed) past a limit.
fn commit(store: &mut Store, key: Key, session: Session) -> Result<(), Response> {
    fitting(store, &key, &session)?;
    store.sfu.sessions.put(key, session);
    Ok(())
}

/// Whether `session` fits in the store as `key`, or the refusal (checked before the media
/// server is changed too, so that a refused request changes nothing).
fn fitting(store: &Store, key: &Key, session: &Session) -> Result<(), Response> {
    let replacing = store.sfu.sessions.get(key).map_or(0, Weight::weight);
    fits(session, replacing, store.weight()).map_err(|why| invalid_params(&why))
}

/// The live session `id` of `app` (a publisher a request pulls from).
fn publisher<'a>(store: &'a Store, state: &State, app: &str, id: &str) -> Option<&'a Session> {
    let key = (app.to_string(), id.to_string());
    store.sfu.live(&key, Instant::now(), state.sfu_session_idle)
}

/// The fault queued for the next item of `operation`, if any.
fn item_fault(state: &State, operation: &Operation) -> Option<ItemFault> {
    state.faults().take_item(operation.id)
}

/// A track as an answer lists it, with its own error if it failed.
#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct TrackItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<Location>,
    mid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    track_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<String>,
}

impl TrackItem {
    fn failed(self, code: &str, description: &str) -> Self {
        Self {
            error_code: Some(code.into()),
            error_description: Some(description.into()),
            ..self
        }
    }

    fn faulted(self, fault: ItemFault) -> Self {
        self.failed(&fault.error_code, &fault.error_description)
    }
}

/// `sessions/new`: an empty session, `201 {"sessionId"}`.
fn new_session(state: &State, params: &Params, _: &[u8]) -> Response {
    let app = params.get("app_id");
    let now = Instant::now();
    let mut store = state.store();
    store.sfu.sweep(now, state.sfu_session_idle);
    if let Err(why) = store.sfu.room_for_sessions(app, 1) {
        return invalid_params(&why);
    }
    let id = hex(32);
    if let Err(refused) = commit(&mut store, (app.to_string(), id.clone()), Session::new(now)) {
        return refused;
    }
    answer(StatusCode::CREATED, serde_json::json!({"sessionId": id}))
}

/// The state of one track or data channel.
fn status(active: bool) -> &'static str {
    if active {
        "active"
    } else {
        "inactive"
    }
}

/// `GET` a session: its tracks and data channels with their status, closed ones `inactive`.
fn get_session(state: &State, params: &Params, _: &[u8]) -> Response {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct TrackState<'a> {
        location: Location,
        mid: &'a str,
        track_name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        session_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        kind: Option<&'a str>,
        status: &'static str,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ChannelState<'a> {
        location: Location,
        data_channel_name: &'a str,
        id: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        session_id: Option<&'a str>,
        status: &'static str,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct SessionState<'a> {
        tracks: Vec<TrackState<'a>>,
        data_channels: Vec<ChannelState<'a>>,
    }
    let mut store = state.store();
    let (key, session) = match open(&mut store, state, params) {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    // With media, a track is active while it carries media.
    #[cfg(feature = "fake-media")]
    let flowing = media::flowing(state, &key);
    #[cfg(not(feature = "fake-media"))]
    let flowing: Option<std::collections::HashSet<String>> = {
        let _ = key;
        None
    };
    let tracks = session.tracks.iter().map(|t| TrackState {
        location: t.location,
        mid: &t.mid,
        track_name: &t.name,
        session_id: t.session.as_deref(),
        kind: t.kind.as_deref(),
        status: status(t.active && flowing.as_ref().is_none_or(|f| f.contains(&t.mid))),
    });
    let channels = session.channels.iter().map(|c| ChannelState {
        location: c.location,
        data_channel_name: &c.name,
        id: c.id,
        session_id: c.session.as_deref(),
        status: status(c.active),
    });
    ok(SessionState {
        tracks: tracks.collect(),
        data_channels: channels.collect(),
    })
}

/// A session as `GET /__fake/state` shows it.
#[derive(Serialize)]
pub(crate) struct SessionSummary<'a> {
    app_id: &'a str,
    session_id: &'a str,
    tracks: usize,
    data_channels: usize,
    transport_established: bool,
    offer_pending: bool,
}

/// Every session the store holds (expired ones are forgotten as they are found).
pub(crate) fn sessions(store: &Store) -> Vec<SessionSummary<'_>> {
    store
        .sfu
        .sessions
        .iter()
        .map(|((app, id), s)| SessionSummary {
            app_id: app,
            session_id: id,
            tracks: s.tracks.len(),
            data_channels: s.channels.len(),
            transport_established: s.transport,
            offer_pending: s.offer_pending,
        })
        .collect()
}

/// An adapter as `GET /__fake/state` shows it.
#[derive(Serialize)]
pub(crate) struct AdapterSummary<'a> {
    app_id: &'a str,
    adapter_id: &'a str,
    location: Location,
    track_name: &'a str,
    session_id: &'a str,
}

/// Every live adapter.
pub(crate) fn adapters(store: &Store) -> Vec<AdapterSummary<'_>> {
    store
        .sfu
        .adapters
        .iter()
        .map(|((app, id), a)| AdapterSummary {
            app_id: app,
            adapter_id: id,
            location: a.location,
            track_name: &a.track_name,
            session_id: &a.session,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sfus_sdp_has_one_section_per_transceiver() {
        let media = [
            ("0".to_string(), "audio".to_string(), "recvonly"),
            ("1".to_string(), "video".to_string(), "recvonly"),
        ];
        let answer = sdp("answer", &media);
        assert!(answer.sdp.starts_with("v=0\r\no=- "));
        assert!(answer.sdp.contains("a=group:BUNDLE 0 1\r\n"));
        assert_eq!(answer.sdp.matches("\r\nm=").count(), 2);
        assert!(answer.sdp.contains("m=video") && answer.sdp.contains("a=setup:passive"));
        assert_eq!(
            media_of(&answer.sdp),
            [("0".into(), "audio".into()), ("1".into(), "video".into())]
        );
        assert!(!sdp("offer", &[]).sdp.contains("m="));
        assert!(
            media_of("a=mid:x\nm=\nm=video\r\na=mid:").len() == 2,
            "no panic"
        );
    }

    #[test]
    fn only_plausible_descriptions_of_the_right_type_count() {
        let d = |sdp: &str, kind| Description {
            sdp: Some(sdp.into()),
            kind,
        };
        let offer = d("v=0\r\n", Some(SdpType::Offer));
        assert_eq!(sdp_of(Some(&offer), SdpType::Offer), Some("v=0\r\n"));
        assert_eq!(sdp_of(Some(&offer), SdpType::Answer), None);
        assert_eq!(
            sdp_of(Some(&d("", Some(SdpType::Offer))), SdpType::Offer),
            None
        );
        assert_eq!(sdp_of(Some(&d("v=0", None)), SdpType::Offer), None);
        assert_eq!(sdp_of(None, SdpType::Offer), None);
    }
}
