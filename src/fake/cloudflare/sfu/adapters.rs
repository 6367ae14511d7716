//! WebSocket adapters, per app: `remote` (egress) streams a published track to a WebSocket,
//! `local` (ingest) feeds a new publisher session from one. The fake dials nothing: an adapter
//! is a record, and an ingest adapter holds its session open (it does not expire) until closed.
//! Both operations answer 200 when at least one item succeeded and 503, with the same body, when
//! every item failed; a malformed request is a 406 `invalid_params`, as the spec declares.

use std::net::{Ipv4Addr, Ipv6Addr};

use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{answer, decode, invalid_params, item_fault, publisher};
use crate::fake::resolve::Params;
use crate::fake::store::sfu::{fits, Adapter, Location, Session, Track};
use crate::fake::store::{hex, Weight, MAX_STORE_BYTES};
use crate::fake::State;
use crate::operations as ops;

/// The most adapters one request may name, as the spec declares.
const MAX_PER_REQUEST: usize = 4;
/// What an egress adapter's `bytesProcessed` counts per millisecond open: 48 kHz stereo s16le
/// PCM, as Cloudflare's adapters send.
const BYTES_PER_MS: u64 = 192;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRequest {
    tracks: Option<Vec<NewAdapter>>,
}

/// An adapter as a request names it; values are checked here, so that a bad one is a 406 (a
/// value of the wrong type is a 400 `decoding_error`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewAdapter {
    location: Option<String>,
    session_id: Option<String>,
    track_name: Option<String>,
    endpoint: Option<String>,
    input_codec: Option<String>,
    output_codec: Option<String>,
    /// Ignored, as Cloudflare ignores it (the mode follows from `location`).
    #[allow(dead_code)]
    mode: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseRequest {
    tracks: Option<Vec<CloseAdapter>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CloseAdapter {
    adapter_id: Option<String>,
}

/// An adapter as an answer lists it, with its own error if it failed.
#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct AdapterItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    adapter_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    track_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_processed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<String>,
}

impl AdapterItem {
    fn failed(self, code: &str, description: &str) -> Self {
        Self {
            error_code: Some(code.into()),
            error_description: Some(description.into()),
            ..self
        }
    }
}

/// 200 with the items when one succeeded, 503 with them when every one failed.
fn batch(items: Vec<AdapterItem>) -> Response {
    let status = match items.iter().any(|i| i.error_code.is_none()) {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    answer(status, serde_json::json!({ "tracks": items }))
}

/// The items of a request, if there are 1 to 4.
fn one_to_four<T>(tracks: Option<Vec<T>>) -> Result<Vec<T>, Response> {
    match tracks.unwrap_or_default() {
        tracks if tracks.is_empty() => {
            Err(invalid_params("Expecting at least 1 track in the request"))
        }
        tracks if tracks.len() > MAX_PER_REQUEST => Err(invalid_params(&format!(
            "Expecting at most {MAX_PER_REQUEST} track in the request"
        ))),
        tracks => Ok(tracks),
    }
}

fn given(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.is_empty())
}

/// Whether the WebSocket `endpoint` names this machine (`localhost`, `*.localhost`, a loopback
/// or unspecified address), which Cloudflare refuses to dial.
fn is_localhost(endpoint: &str) -> bool {
    let rest = endpoint
        .strip_prefix("wss://")
        .or_else(|| endpoint.strip_prefix("ws://"))
        .unwrap_or(endpoint);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if let Some(v6) = host.strip_prefix('[') {
        let ip = v6
            .split(']')
            .next()
            .and_then(|a| a.parse::<Ipv6Addr>().ok());
        return ip.is_some_and(|ip| {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        });
    }
    let host = host.split(':').next().unwrap_or_default();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

/// The location of an item, if it is valid: 406 otherwise.
fn checked(i: usize, item: &NewAdapter) -> Result<Location, Response> {
    let refuse = |why: &str| Err(invalid_params(&format!("tracks[{i}]: {why}")));
    let location = match item.location.as_deref() {
        Some("local") => Location::Local,
        Some("remote") => Location::Remote,
        _ => return refuse("location must be local or remote"),
    };
    if !given(&item.track_name) {
        return refuse("trackName is required and not empty");
    }
    let endpoint = item.endpoint.as_deref().unwrap_or_default();
    if !(endpoint.starts_with("ws://") || endpoint.starts_with("wss://")) {
        return refuse("endpoint must be a ws:// or wss:// URL");
    }
    match location {
        Location::Local if item.input_codec.as_deref() != Some("pcm") => {
            refuse("a local adapter needs inputCodec pcm")
        }
        Location::Remote if !given(&item.session_id) => refuse("a remote adapter needs sessionId"),
        Location::Remote if !matches!(item.output_codec.as_deref(), Some("pcm" | "jpeg")) => {
            refuse("a remote adapter needs outputCodec pcm or jpeg")
        }
        _ => Ok(location),
    }
}

/// `adapters/websocket/new`: 1 to 4 items, each checked before anything changes (room for every
/// item counted as if it succeeded). A localhost endpoint is an item
/// `websocket_localhost_not_allowed`; a remote item whose session does not publish the track an
/// item `not_found_track_error`. A local item's success is a new session publishing the track,
/// its `sessionId` answered; a remote item's success has none.
pub(super) fn new(state: &State, params: &Params, body: &[u8]) -> Response {
    let request: NewRequest = match decode(body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let tracks = match one_to_four(request.tracks) {
        Ok(tracks) => tracks,
        Err(refused) => return refused,
    };
    let mut locations = Vec::new();
    for (i, item) in tracks.iter().enumerate() {
        match checked(i, item) {
            Ok(location) => locations.push(location),
            Err(refused) => return refused,
        }
    }
    let app = params.get("app_id");
    let now = Instant::now();
    let mut store = state.store();
    store.sfu.sweep(now, state.sfu_session_idle);
    let local = locations.iter().filter(|l| **l == Location::Local).count();
    let room = (store.sfu.room_for_adapters(app, tracks.len()))
        .and_then(|_| store.sfu.room_for_sessions(app, local));
    if let Err(why) = room {
        return invalid_params(&why);
    }
    // What the request makes, decided before any of it is stored.
    let (mut items, mut adapters, mut sessions) = (Vec::new(), Vec::new(), Vec::new());
    for (item, location) in tracks.into_iter().zip(locations) {
        let name = item.track_name.unwrap_or_default();
        let answered = AdapterItem {
            location: Some(location),
            track_name: Some(name.clone()),
            ..AdapterItem::default()
        };
        if let Some(fault) = item_fault(state, &ops::SFU_ADAPTERS_WEBSOCKET_NEW) {
            items.push(answered.failed(&fault.error_code, &fault.error_description));
            continue;
        }
        if is_localhost(item.endpoint.as_deref().unwrap_or_default()) {
            let why = "the WebSocket endpoint must not be localhost";
            items.push(answered.failed("websocket_localhost_not_allowed", why));
            continue;
        }
        let id = hex(32);
        let session = match location {
            Location::Remote => {
                let from = item.session_id.unwrap_or_default();
                let found = publisher(&store, state, app, &from).and_then(|s| s.published(&name));
                if found.is_none() {
                    items.push(answered.failed("not_found_track_error", "Track not found"));
                    continue;
                }
                from
            }
            Location::Local => {
                let mut session = Session::new(now);
                session.pinned = true;
                session.saw_mid("0");
                session.tracks.push(Track {
                    location: Location::Local,
                    mid: "0".into(),
                    name: name.clone(),
                    session: None,
                    kind: Some("audio".into()),
                    active: true,
                });
                let session_id = hex(32);
                sessions.push((session_id.clone(), session));
                session_id
            }
        };
        items.push(AdapterItem {
            adapter_id: Some(id.clone()),
            session_id: (location == Location::Local).then(|| session.clone()),
            ..answered
        });
        let adapter = Adapter {
            location,
            track_name: name,
            session,
            opened: now,
        };
        adapters.push(((app.to_string(), id), adapter));
    }
    let more: usize = adapters.iter().map(|(_, a)| a.weight()).sum::<usize>()
        + sessions.iter().map(|(_, s)| s.weight()).sum::<usize>();
    let too_large = sessions.iter().find_map(|(_, s)| fits(s, 0, 0).err());
    if let Some(why) = too_large {
        return invalid_params(&why);
    }
    if store.weight() + more > MAX_STORE_BYTES {
        return invalid_params(&format!(
            "the fake server holds at most {MAX_STORE_BYTES} bytes in all; POST /__fake/reset \
             empties it"
        ));
    }
    for (id, session) in sessions {
        store.sfu.sessions.put((app.to_string(), id), session);
    }
    for (key, adapter) in adapters {
        store.sfu.adapters.put(key, adapter);
    }
    batch(items)
}

/// `adapters/websocket/close`: 1 to 4 `adapterId`s. A live adapter closes (`bytesProcessed`:
/// 48 kHz stereo PCM for the time it was open) and an ingest adapter's session may expire again;
/// an unknown or closed one is an item `adapter_not_found`.
pub(super) fn close(state: &State, params: &Params, body: &[u8]) -> Response {
    let request: CloseRequest = match decode(body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let tracks = match one_to_four(request.tracks) {
        Ok(tracks) => tracks,
        Err(refused) => return refused,
    };
    if let Some(i) = tracks.iter().position(|t| !given(&t.adapter_id)) {
        return invalid_params(&format!("tracks[{i}]: adapterId is required and not empty"));
    }
    let app = params.get("app_id").to_string();
    let now = Instant::now();
    let mut store = state.store();
    let mut items = Vec::new();
    for CloseAdapter { adapter_id } in tracks {
        let id = adapter_id.unwrap_or_default();
        let answered = AdapterItem {
            adapter_id: Some(id.clone()),
            ..AdapterItem::default()
        };
        if let Some(fault) = item_fault(state, &ops::SFU_ADAPTERS_WEBSOCKET_CLOSE) {
            items.push(answered.failed(&fault.error_code, &fault.error_description));
            continue;
        }
        let Some(adapter) = store.sfu.adapters.remove(&(app.clone(), id)) else {
            items.push(answered.failed("adapter_not_found", "Adapter not found"));
            continue;
        };
        if adapter.location == Location::Local {
            let key = (app.clone(), adapter.session.clone());
            store.sfu.sessions.update(&key, |s| {
                s.pinned = false;
                s.last_used = now;
            });
        }
        let open_ms = now.saturating_duration_since(adapter.opened).as_millis();
        let bytes = u64::try_from(open_ms)
            .unwrap_or(u64::MAX)
            .saturating_mul(BYTES_PER_MS);
        items.push(AdapterItem {
            bytes_processed: Some(bytes),
            ..answered
        });
    }
    batch(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_endpoints_are_recognised() {
        for local in [
            "ws://localhost/x",
            "wss://LOCALHOST:8443",
            "ws://a.localhost",
            "ws://localhost.",
            "ws://127.0.0.1:80/",
            "ws://127.1.2.3",
            "ws://user@127.0.0.1",
            "wss://[::1]:9000/ws",
            "ws://[::ffff:127.0.0.1]",
            "ws://0.0.0.0",
        ] {
            assert!(is_localhost(local), "{local}");
        }
        for remote in [
            "wss://example.com/ws",
            "ws://127.example.com",
            "ws://localhost.example.com",
            "ws://[2001:db8::1]",
            "ws://10.0.0.1",
            "ws://",
            "ws://[",
            "ws://@:/",
        ] {
            assert!(!is_localhost(remote), "{remote}");
        }
    }
}
