//! Data channels: the session's transport (`establish`, once), then channels published
//! (`local`) or subscribed to (`remote`) by name, each with an `id` of this session.

use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{
    commit, decode, error, fitting, invalid_params, invalid_sdp, item_fault, media_of, negotiating,
    ok, open, publisher, sdp, sdp_of, Description, Sdp, SdpType,
};
use crate::fake::faults::ItemFault;
use crate::fake::resolve::Params;
use crate::fake::store::sfu::{Channel, Location, Session};
use crate::fake::State;
use crate::operations as ops;

/// What the fake says of a channel to subscribe to (or to update) that is not there.
const CHANNEL_NOT_FOUND: &str = "Data channel not found";
/// What the fake says of a close of a channel that is not there (with the code Cloudflare
/// gives tracks: its error page lists one for both).
const CLOSE_CHANNEL_ERROR: &str = "Data channel doesn't exist or was already closed";

/// A data channel as a request names it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChannelObject {
    location: Option<Location>,
    session_id: Option<String>,
    data_channel_name: Option<String>,
    /// Settings checked for their type: the fake carries no messages they would change.
    #[allow(dead_code)]
    ordered: Option<bool>,
    max_retransmits: Option<u64>,
    max_packet_life_time: Option<u64>,
    #[allow(dead_code)]
    wait_for_ack: Option<bool>,
    #[allow(dead_code)]
    can_reply: Option<bool>,
    id: Option<u64>,
}

impl ChannelObject {
    /// The 406 of a channel whose settings contradict each other.
    fn contradiction(&self, i: usize) -> Option<Response> {
        (self.max_retransmits.is_some() && self.max_packet_life_time.is_some()).then(|| {
            invalid_params(&format!(
                "dataChannels[{i}]: maxRetransmits and maxPacketLifeTime are mutually exclusive"
            ))
        })
    }

    fn name(&self) -> Option<&str> {
        self.data_channel_name.as_deref().filter(|n| !n.is_empty())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EstablishRequest {
    data_channel: ChannelObject,
    session_description: Option<Description>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChannelsRequest {
    data_channels: Vec<ChannelObject>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CloseRequest {
    data_channels: Vec<CloseChannel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseChannel {
    id: u64,
}

/// A data channel as an answer lists it, with its own error if it failed.
#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct ChannelItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_channel_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<String>,
}

impl ChannelItem {
    fn of(channel: &Channel) -> Self {
        Self {
            location: Some(channel.location),
            data_channel_name: Some(channel.name.clone()),
            id: Some(channel.id.into()),
            session_id: channel.session.clone(),
            ..Self::default()
        }
    }

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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChannelsAnswer {
    data_channels: Vec<ChannelItem>,
}

/// Adds a channel to `session` with its next ID.
fn add(session: &mut Session, location: Location, name: String, from: Option<String>) -> Channel {
    let channel = Channel {
        location,
        name,
        id: session.next_channel_id,
        session: from,
        active: true,
    };
    session.next_channel_id = session.next_channel_id.saturating_add(1);
    session.channels.push(channel.clone());
    channel
}

/// `datachannels/establish`, once per session (a second call is a 400 `decoding_error`, as
/// Cloudflare answers a transport already negotiated). Without an offer the SFU answers with
/// its own and `requiresImmediateRenegotiation: true`; the channel named (`location` `remote`
/// unless given) comes back with its `id`.
pub(super) fn establish(state: &State, params: &Params, body: &[u8]) -> Response {
    let request: EstablishRequest = match decode(body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let channel = request.data_channel;
    if let Some(refused) = channel.contradiction(0) {
        return refused;
    }
    let Some(name) = channel.name().map(str::to_string) else {
        return invalid_params("dataChannel: dataChannelName is required and not empty");
    };
    let offer = match &request.session_description {
        Some(description) => match sdp_of(Some(description), SdpType::Offer) {
            Some(offer) => Some(offer),
            None => return invalid_sdp("the session description must be the endpoint's offer"),
        },
        None => None,
    };
    let mut store = state.store();
    let (key, mut session) = match open(&mut store, state, params) {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    if session.transport {
        return error(
            StatusCode::BAD_REQUEST,
            "decoding_error",
            "data channel transport already established",
        );
    }
    if session.offer_pending {
        return negotiating();
    }
    session.transport = true;
    let location = channel.location.unwrap_or(Location::Remote);
    let added = add(&mut session, location, name, channel.session_id);
    let offered = offer.map(media_of).unwrap_or_default();
    let mid = match offered.iter().find(|(_, what)| what == "application") {
        Some((mid, _)) => {
            session.saw_mid(mid);
            mid.clone()
        }
        None => session.new_mid(),
    };
    let media = [(mid, "application".to_string(), "sendrecv")];
    let (description, renegotiate): (Sdp, bool) = match offer {
        Some(_) => (sdp("answer", &media), false),
        None => (sdp("offer", &media), true),
    };
    if let Err(refused) = fitting(&store, &key, &session) {
        return refused;
    }
    // With real media, the SFU's own SCTP transport, and the channel named on it.
    #[cfg(feature = "fake-media")]
    let (description, renegotiate) = match super::media::establish(state, &key, &added, offer) {
        Ok(Some(own)) => own,
        Ok(None) => (description, renegotiate),
        Err(refused) => return refused,
    };
    session.offer_pending = renegotiate;
    if let Err(refused) = commit(&mut store, key, session) {
        return refused;
    }
    ok(serde_json::json!({
        "requiresImmediateRenegotiation": renegotiate,
        "sessionDescription": description,
        "dataChannel": ChannelItem::of(&added),
    }))
}

/// `datachannels/new`, once the transport is established (before, a 400 `decoding_error`).
/// Every item needs `location` and `dataChannelName`, a remote one `sessionId` (else 406). A
/// local name this session already publishes is an item `repeated_local_track_error`; a remote
/// channel the session named does not publish an item `not_found_track_error`.
pub(super) fn new(state: &State, params: &Params, body: &[u8]) -> Response {
    let request: ChannelsRequest = match decode(body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    for (i, c) in request.data_channels.iter().enumerate() {
        if let Some(refused) = c.contradiction(i) {
            return refused;
        }
        let missing = match c.location {
            None => Some("location"),
            _ if c.name().is_none() => Some("dataChannelName"),
            Some(Location::Remote) if c.session_id.as_deref().is_none_or(str::is_empty) => {
                Some("sessionId")
            }
            _ => None,
        };
        if let Some(field) = missing {
            let why = format!("dataChannels[{i}]: {field} is required and not empty");
            return invalid_params(&why);
        }
    }
    let mut store = state.store();
    let (key, mut session) = match open(&mut store, state, params) {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    if !session.transport {
        return error(
            StatusCode::BAD_REQUEST,
            "decoding_error",
            "the data channel transport is not established: call datachannels/establish first",
        );
    }
    let mut items = Vec::new();
    for c in request.data_channels {
        let name = c.name().unwrap_or_default().to_string();
        let location = c.location.unwrap_or(Location::Local);
        let from = c.session_id.filter(|_| location == Location::Remote);
        let item = ChannelItem {
            location: Some(location),
            data_channel_name: Some(name.clone()),
            session_id: from.clone(),
            ..ChannelItem::default()
        };
        if let Some(fault) = item_fault(state, &ops::SFU_DATACHANNELS_NEW) {
            items.push(item.faulted(fault));
            continue;
        }
        let exists = match &from {
            None => session.published_channel(&name).is_none(),
            Some(from) => publisher(&store, state, &key.0, from)
                .and_then(|s| s.published_channel(&name))
                .is_some(),
        };
        match (exists, &from) {
            (true, _) => {
                let added = add(&mut session, location, name, from);
                items.push(ChannelItem::of(&added));
            }
            (false, None) => items.push(item.failed(
                "repeated_local_track_error",
                "the session already publishes a data channel of this name",
            )),
            (false, Some(_)) => items.push(item.failed("not_found_track_error", CHANNEL_NOT_FOUND)),
        }
    }
    if let Err(refused) = fitting(&store, &key, &session) {
        return refused;
    }
    #[cfg(feature = "fake-media")]
    {
        let opened: Vec<&Channel> = session
            .channels
            .iter()
            .filter(|c| {
                items
                    .iter()
                    .any(|i| i.error_code.is_none() && i.id == Some(c.id.into()))
            })
            .collect();
        if let Err(refused) = super::media::open_channels(state, &key, &opened) {
            return refused;
        }
    }
    if let Err(refused) = commit(&mut store, key, session) {
        return refused;
    }
    ok(ChannelsAnswer {
        data_channels: items,
    })
}

/// `datachannels/update`: each item names an active channel of this session by `id` or by
/// `dataChannelName` (and `location`, if given); its settings are checked and accepted. One
/// not found is an item `not_found_track_error`.
pub(super) fn update(state: &State, params: &Params, body: &[u8]) -> Response {
    let request: ChannelsRequest = match decode(body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    for (i, c) in request.data_channels.iter().enumerate() {
        if let Some(refused) = c.contradiction(i) {
            return refused;
        }
        if c.id.is_none() && c.name().is_none() {
            let why = format!("dataChannels[{i}]: id or dataChannelName is required");
            return invalid_params(&why);
        }
    }
    let mut store = state.store();
    let (_, session) = match open(&mut store, state, params) {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let mut items = Vec::new();
    for c in request.data_channels {
        let item = ChannelItem {
            location: c.location,
            data_channel_name: c.name().map(str::to_string),
            id: c.id,
            ..ChannelItem::default()
        };
        if let Some(fault) = item_fault(state, &ops::SFU_DATACHANNELS_UPDATE) {
            items.push(item.faulted(fault));
            continue;
        }
        let found = session.channels.iter().find(|x| {
            x.active
                && c.id.is_none_or(|id| u64::from(x.id) == id)
                && c.name().is_none_or(|n| x.name == n)
                && c.location.is_none_or(|l| x.location == l)
        });
        match found {
            Some(channel) => items.push(ChannelItem::of(channel)),
            None => items.push(item.failed("not_found_track_error", CHANNEL_NOT_FOUND)),
        }
    }
    ok(ChannelsAnswer {
        data_channels: items,
    })
}

/// `datachannels/close`: each `id` of an active channel of this session becomes `inactive`
/// (still listed); one absent or closed already is an item `close_track_error`.
pub(super) fn close(state: &State, params: &Params, body: &[u8]) -> Response {
    let request: CloseRequest = match decode(body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    if request.data_channels.is_empty() {
        return invalid_params("Expecting at least 1 data channel in the request");
    }
    let mut store = state.store();
    let (key, mut session) = match open(&mut store, state, params) {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let mut items = Vec::new();
    for CloseChannel { id } in request.data_channels {
        let item = ChannelItem {
            id: Some(id),
            ..ChannelItem::default()
        };
        if let Some(fault) = item_fault(state, &ops::SFU_DATACHANNELS_CLOSE) {
            items.push(item.faulted(fault));
            continue;
        }
        let found = session
            .channels
            .iter_mut()
            .find(|c| c.active && u64::from(c.id) == id);
        match found {
            Some(channel) => {
                channel.active = false;
                #[cfg(feature = "fake-media")]
                super::media::close_channel(state, &key, channel.id);
                items.push(ChannelItem::of(channel));
            }
            None => items.push(item.failed("close_track_error", CLOSE_CHANNEL_ERROR)),
        }
    }
    if let Err(refused) = commit(&mut store, key, session) {
        return refused;
    }
    ok(ChannelsAnswer {
        data_channels: items,
    })
}
