//! A request body read into its operation's generated type, and what it asks for, as the app's
//! hook sees it. Nothing is sent for a body that is not the operation's JSON.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::hook::Action;
use crate::cloudflare::sfu::{MAX_ADAPTERS_PER_REQUEST, MAX_TRACKS_PER_REQUEST};
use crate::generated::sfu::types as wire;
use crate::operations::{self as ops, Operation};
use crate::SessionId;

/// An error in the SFU's shape.
pub(super) fn refusal(status: StatusCode, code: &str, description: &str) -> Response {
    let body = serde_json::json!({"errorCode": code, "errorDescription": description});
    (status, axum::Json(body)).into_response()
}

/// A request refused before anything was sent, with the SFU's words.
pub(super) struct Refused {
    pub(super) status: StatusCode,
    pub(super) description: &'static str,
}

impl Refused {
    const fn bad(description: &'static str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            description,
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let code = match self.status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::REQUEST_TIMEOUT => "timeout",
            _ => "invalid_request",
        };
        refusal(self.status, code, self.description)
    }
}

/// A request body, read into its operation's generated type.
pub(super) enum Parsed {
    None,
    Tracks(wire::SfuTracksRequest),
    Update(wire::SfuUpdateTracksRequest),
    Close(wire::SfuCloseTracksRequest),
    Renegotiate(wire::SfuRenegotiateRequest),
    Establish(wire::SfuEstablishRequest),
    Channels(wire::SfuDataChannelsRequest),
    CloseChannels(wire::SfuCloseDataChannelsRequest),
    NewAdapters(wire::SfuNewAdapterRequest),
    CloseAdapters(wire::SfuCloseAdapterRequest),
}

/// The body as the operation's generated request type. (serde's words quote values from the
/// body, so they are not told.)
fn parse<B: DeserializeOwned>(body: &[u8]) -> Result<B, Refused> {
    serde_json::from_slice(body)
        .map_err(|_| Refused::bad("the request body is not the operation's JSON"))
}

/// A named session as the hook and the upstream request see it: checked like every ID.
fn session_named(raw: Option<&String>) -> Result<SessionId, Refused> {
    raw.and_then(|raw| SessionId::parse(raw.as_str()).ok())
        .ok_or(Refused::bad(
            "a remote track or channel names its publisher's session by a session ID",
        ))
}

/// Whether an item pulls from another session (it names one, or says it is remote); every
/// other item publishes.
fn is_remote(location: Option<&wire::SfuLocation>, session: Option<&String>) -> bool {
    session.is_some() || matches!(location, Some(wire::SfuLocation::Remote))
}

fn at_most(count: usize, most: usize) -> Result<(), Refused> {
    if count > most {
        return Err(Refused::bad("too many items in one request"));
    }
    Ok(())
}

/// Tracks a request publishes (by name) and pulls (publisher's session, name).
type Split = (Vec<String>, Vec<(SessionId, String)>);

fn tracks(items: &[wire::SfuTrackObject]) -> Result<Split, Refused> {
    at_most(items.len(), MAX_TRACKS_PER_REQUEST)?;
    let name = |t: &wire::SfuTrackObject| t.track_name.as_ref().map(|n| n.to_string());
    let mut split = (Vec::new(), Vec::new());
    for track in items {
        if is_remote(track.location.as_ref(), track.session_id.as_ref()) {
            let session = session_named(track.session_id.as_ref())?;
            split.1.push((session, name(track).unwrap_or_default()));
        } else {
            split.0.extend(name(track));
        }
    }
    Ok(split)
}

fn channels(items: &[wire::SfuDataChannelObject]) -> Result<Split, Refused> {
    at_most(items.len(), MAX_TRACKS_PER_REQUEST)?;
    let name = |c: &wire::SfuDataChannelObject| {
        c.data_channel_name
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_default()
    };
    let mut split = (Vec::new(), Vec::new());
    for channel in items {
        if is_remote(channel.location.as_ref(), channel.session_id.as_ref()) {
            let session = session_named(channel.session_id.as_ref())?;
            split.1.push((session, name(channel)));
        } else {
            split.0.push(name(channel));
        }
    }
    Ok(split)
}

/// What each operation's body asks for, with the parsed body.
pub(super) fn action_of(op: &Operation, body: &[u8]) -> Result<(Action, Parsed), Refused> {
    let is = |other: &Operation| op.id == other.id;
    Ok(if is(&ops::SFU_SESSION_GET) {
        (Action::State, Parsed::None)
    } else if is(&ops::SFU_TRACKS_NEW) {
        let request: wire::SfuTracksRequest = parse(body)?;
        let (publish, pull) = tracks(&request.tracks)?;
        let auto_discover = request.auto_discover == Some(true);
        let action = Action::Tracks {
            publish,
            pull,
            auto_discover,
        };
        (action, Parsed::Tracks(request))
    } else if is(&ops::SFU_TRACKS_UPDATE) {
        let request: wire::SfuUpdateTracksRequest = parse(body)?;
        let (_, pull) = tracks(&request.tracks)?;
        (Action::UpdateTracks { pull }, Parsed::Update(request))
    } else if is(&ops::SFU_TRACKS_CLOSE) {
        let request: wire::SfuCloseTracksRequest = parse(body)?;
        at_most(request.tracks.len(), MAX_TRACKS_PER_REQUEST)?;
        (Action::CloseTracks, Parsed::Close(request))
    } else if is(&ops::SFU_RENEGOTIATE) {
        (Action::Renegotiate, Parsed::Renegotiate(parse(body)?))
    } else if is(&ops::SFU_DATACHANNELS_ESTABLISH) {
        let request: wire::SfuEstablishRequest = parse(body)?;
        let (_, pull) = channels(std::slice::from_ref(&request.data_channel))?;
        let action = Action::EstablishDataChannels { pull };
        (action, Parsed::Establish(request))
    } else if is(&ops::SFU_DATACHANNELS_NEW) || is(&ops::SFU_DATACHANNELS_UPDATE) {
        let request: wire::SfuDataChannelsRequest = parse(body)?;
        let (publish, pull) = channels(&request.data_channels)?;
        let can_reply = request
            .data_channels
            .iter()
            .any(|c| c.can_reply == Some(true));
        let action = if is(&ops::SFU_DATACHANNELS_NEW) {
            Action::DataChannels {
                publish,
                pull,
                can_reply,
            }
        } else {
            Action::UpdateDataChannels { pull, can_reply }
        };
        (action, Parsed::Channels(request))
    } else if is(&ops::SFU_DATACHANNELS_CLOSE) {
        let request: wire::SfuCloseDataChannelsRequest = parse(body)?;
        at_most(request.data_channels.len(), MAX_TRACKS_PER_REQUEST)?;
        (Action::CloseDataChannels, Parsed::CloseChannels(request))
    } else if is(&ops::SFU_ADAPTERS_WEBSOCKET_NEW) {
        let request: wire::SfuNewAdapterRequest = parse(body)?;
        at_most(request.tracks.len(), MAX_ADAPTERS_PER_REQUEST)?;
        let tracks = request
            .tracks
            .iter()
            .map(|a| {
                let session = a.session_id.as_ref().map(|s| SessionId::new(s.as_str()));
                (session, a.track_name.to_string())
            })
            .collect();
        (Action::NewAdapters { tracks }, Parsed::NewAdapters(request))
    } else if is(&ops::SFU_ADAPTERS_WEBSOCKET_CLOSE) {
        let request: wire::SfuCloseAdapterRequest = parse(body)?;
        at_most(request.tracks.len(), MAX_ADAPTERS_PER_REQUEST)?;
        (Action::CloseAdapters, Parsed::CloseAdapters(request))
    } else {
        (Action::CreateSession, Parsed::None)
    })
}

/// An SDP offer, by what its description says.
pub(super) fn is_offer(description: Option<&wire::SfuSessionDescription>) -> bool {
    description.is_some_and(|d| matches!(d.type_, Some(wire::SfuSessionDescriptionType::Offer)))
}
