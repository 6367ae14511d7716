//! Media tracks: publish (`local`, with the endpoint's offer) and pull (`remote`, answered with
//! the SFU's offer, which waits for the endpoint's answer through renegotiate), update, close.

use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{
    commit, decode, fitting, invalid_params, invalid_sdp, item_fault, media_of, negotiating, ok,
    open, publisher, sdp, sdp_of, Description, Media, Sdp, SdpType, TrackItem,
    MAX_TRACKS_PER_REQUEST,
};
use crate::fake::resolve::Params;
use crate::fake::store::sfu::{Location, Track};
use crate::fake::State;
use crate::operations as ops;

/// What Cloudflare says of a close of a track that is not there.
const CLOSE_TRACK_ERROR: &str = "Track doesn't exist or was already closed";
/// What the fake says of a track to pull (or to point a transceiver at) that is not published.
const TRACK_NOT_FOUND: &str = "Track not found";

/// A track as a request names it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TrackObject {
    location: Option<Location>,
    mid: Option<String>,
    session_id: Option<String>,
    track_name: Option<String>,
    /// Checked for its type; the fake's transceivers have no direction to change.
    #[allow(dead_code)]
    bidirectional_media_stream: Option<bool>,
    kind: Option<String>,
    #[allow(dead_code)]
    simulcast: Option<Simulcast>,
}

/// Checked for its shape only: the fake sends no media to choose layers of.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct Simulcast {
    preferred_rid: Option<String>,
    priority_ordering: Option<Ordering>,
    rid_not_available: Option<Ordering>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Ordering {
    None,
    Asciibetical,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TracksRequest {
    session_description: Option<Description>,
    tracks: Vec<TrackObject>,
    #[allow(dead_code)]
    auto_discover: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateRequest {
    #[allow(dead_code)]
    session_description: Option<Description>,
    tracks: Vec<TrackObject>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RenegotiateRequest {
    session_description: Option<Description>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CloseRequest {
    tracks: Vec<CloseTrack>,
    force: bool,
    session_description: Option<Description>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseTrack {
    mid: String,
}

/// The answer of tracks/new, update and close.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TracksAnswer {
    requires_immediate_renegotiation: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_description: Option<Sdp>,
    tracks: Vec<TrackItem>,
}

/// A text field that must be there and not empty.
fn given(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.is_empty())
}

/// Refuses a request naming more than 64 tracks.
fn at_most_64<T>(tracks: &[T]) -> Result<(), Response> {
    match tracks.len() > MAX_TRACKS_PER_REQUEST {
        true => Err(invalid_params(&format!(
            "Expecting at most {MAX_TRACKS_PER_REQUEST} tracks in the request"
        ))),
        false => Ok(()),
    }
}

/// `tracks/new`. Every item is checked before anything changes: a local one needs `trackName`
/// and `mid`, a remote one `trackName` and `sessionId` (else 406). Publishing needs the
/// endpoint's offer, answered with the SFU's answer; pulls without an offer are answered with
/// the SFU's offer and `requiresImmediateRenegotiation: true`. A pull of a track the session
/// does not publish (or that was closed, or whose session expired) is an item
/// `not_found_track_error` with an empty `mid`.
pub(super) fn new(state: &State, params: &Params, body: &[u8]) -> Response {
    let request: TracksRequest = match decode(body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    if let Err(refused) = at_most_64(&request.tracks) {
        return refused;
    }
    for (i, t) in request.tracks.iter().enumerate() {
        let missing = match t.location {
            None => Some("location"),
            _ if !given(&t.track_name) => Some("trackName"),
            Some(Location::Local) if !given(&t.mid) => Some("mid"),
            Some(Location::Remote) if !given(&t.session_id) => Some("sessionId"),
            _ => None,
        };
        if let Some(field) = missing {
            return invalid_params(&format!("tracks[{i}]: {field} is required and not empty"));
        }
    }
    let local = request
        .tracks
        .iter()
        .any(|t| t.location == Some(Location::Local));
    let offer = match &request.session_description {
        Some(description) => match sdp_of(Some(description), SdpType::Offer) {
            Some(offer) => Some(offer),
            None => return invalid_sdp("the session description must be the endpoint's offer"),
        },
        None if local => return invalid_sdp("publishing tracks needs the endpoint's offer"),
        None => None,
    };
    #[cfg(feature = "fake-media")]
    {
        let pulls = request
            .tracks
            .iter()
            .any(|t| t.location == Some(Location::Remote));
        if let Some(refused) = super::media::check_offer(state, offer, pulls) {
            return refused;
        }
    }
    let mut store = state.store();
    let (key, mut session) = match open(&mut store, state, params) {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    if session.offer_pending {
        return negotiating();
    }
    let offered = offer.map(media_of).unwrap_or_default();
    let (mut items, mut media, mut pulled) = (Vec::new(), Vec::<Media>::new(), 0);
    for t in request.tracks {
        let name = t.track_name.unwrap_or_default();
        let remote = t.location == Some(Location::Remote);
        if let Some(fault) = item_fault(state, &ops::SFU_TRACKS_NEW) {
            let item = TrackItem {
                track_name: Some(name),
                session_id: t.session_id.filter(|_| remote),
                ..TrackItem::default()
            };
            items.push(item.faulted(fault));
            continue;
        }
        if !remote {
            let mid = t.mid.unwrap_or_default();
            let what = t.kind.clone().or_else(|| {
                let found = offered.iter().find(|(m, _)| *m == mid);
                found.map(|(_, what)| what.clone())
            });
            session.saw_mid(&mid);
            media.push((mid.clone(), what.unwrap_or_default(), "recvonly"));
            items.push(TrackItem {
                location: Some(Location::Local),
                mid: mid.clone(),
                track_name: Some(name.clone()),
                ..TrackItem::default()
            });
            session.tracks.push(Track {
                location: Location::Local,
                mid,
                name,
                session: None,
                kind: t.kind,
                active: true,
            });
            continue;
        }
        let from = t.session_id.unwrap_or_default();
        let found = publisher(&store, state, &key.0, &from).and_then(|s| s.published(&name));
        let Some(published) = found else {
            let item = TrackItem {
                track_name: Some(name),
                session_id: Some(from),
                ..TrackItem::default()
            };
            items.push(item.failed("not_found_track_error", TRACK_NOT_FOUND));
            continue;
        };
        let kind = t.kind.or_else(|| published.kind.clone());
        let mid = session.new_mid();
        media.push((mid.clone(), kind.clone().unwrap_or_default(), "sendonly"));
        pulled += 1;
        items.push(TrackItem {
            location: Some(Location::Remote),
            mid: mid.clone(),
            session_id: Some(from.clone()),
            track_name: Some(name.clone()),
            ..TrackItem::default()
        });
        session.tracks.push(Track {
            location: Location::Remote,
            mid,
            name,
            session: Some(from),
            kind,
            active: true,
        });
    }
    // An answer to the endpoint's offer; else the SFU offers the tracks pulled.
    let (description, renegotiate) = match offer {
        Some(_) => (Some(sdp("answer", &media)), false),
        None if pulled > 0 => (Some(sdp("offer", &media)), true),
        None => (None, false),
    };
    // With real media, the SDP is the SFU's own, and so are the mids of pulled tracks.
    if let Err(refused) = fitting(&store, &key, &session) {
        return refused;
    }
    #[cfg(feature = "fake-media")]
    let description = match super::media::negotiate(state, &key, offer, &mut session, &mut items) {
        Ok(Some(own)) => Some(own),
        Ok(None) => description,
        Err(refused) => return refused,
    };
    session.offer_pending = renegotiate;
    if let Err(refused) = commit(&mut store, key, session) {
        return refused;
    }
    ok(TracksAnswer {
        requires_immediate_renegotiation: renegotiate,
        session_description: description,
        tracks: items,
    })
}

/// `renegotiate`: the endpoint's answer to the SFU's offer, once. Without an offer waiting (none
/// made, or its answer already given) it is a 400 `invalid_session_description`.
pub(super) fn renegotiate(state: &State, params: &Params, body: &[u8]) -> Response {
    let request: RenegotiateRequest = match decode(body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let mut store = state.store();
    let (key, mut session) = match open(&mut store, state, params) {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    if !session.offer_pending {
        return invalid_sdp("no offer of the SFU waits for an answer");
    }
    let Some(answer) = sdp_of(request.session_description.as_ref(), SdpType::Answer) else {
        return invalid_sdp("renegotiate takes the endpoint's answer to the SFU's offer");
    };
    #[cfg(feature = "fake-media")]
    if let Some(refused) = super::media::accept_answer(state, &key, answer) {
        // An answer the SFU took apart and refused voids its offer: the session may negotiate
        // again.
        if !super::media::offer_waits(state, &key) {
            session.offer_pending = false;
            let _ = commit(&mut store, key, session);
        }
        return refused;
    }
    #[cfg(not(feature = "fake-media"))]
    let _ = answer;
    session.offer_pending = false;
    if let Err(refused) = commit(&mut store, key, session) {
        return refused;
    }
    ok(serde_json::json!({}))
}

/// `tracks/close`: each `mid` of an active track of this session becomes `inactive` (still
/// listed); one absent or closed already is an item `close_track_error`. Without `force` the
/// request carries the endpoint's offer and is answered with an SDP answer; with it, no SDP.
pub(super) fn close(state: &State, params: &Params, body: &[u8]) -> Response {
    let request: CloseRequest = match decode(body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    if request.tracks.is_empty() {
        return invalid_params("Expecting at least 1 track in the request");
    }
    if let Err(refused) = at_most_64(&request.tracks) {
        return refused;
    }
    let negotiated = !request.force;
    if negotiated && sdp_of(request.session_description.as_ref(), SdpType::Offer).is_none() {
        return invalid_sdp("closing tracks without force needs the endpoint's offer");
    }
    let mut store = state.store();
    let (key, mut session) = match open(&mut store, state, params) {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    if negotiated && session.offer_pending {
        return negotiating();
    }
    let mut items = Vec::new();
    let mut media = Vec::<Media>::new();
    for CloseTrack { mid } in request.tracks {
        let item = TrackItem {
            mid: mid.clone(),
            ..TrackItem::default()
        };
        if let Some(fault) = item_fault(state, &ops::SFU_TRACKS_CLOSE) {
            items.push(item.faulted(fault));
            continue;
        }
        let track = session
            .tracks
            .iter_mut()
            .find(|t| t.active && t.mid == mid && !mid.is_empty());
        match track {
            Some(track) => {
                track.active = false;
                let what = track.kind.clone().unwrap_or_default();
                media.push((mid, what, "inactive"));
                items.push(item);
            }
            None => items.push(item.failed("close_track_error", CLOSE_TRACK_ERROR)),
        }
    }
    let description = negotiated.then(|| sdp("answer", &media));
    #[cfg(feature = "fake-media")]
    let description = {
        let closed: Vec<String> = items
            .iter()
            .filter(|i| i.error_code.is_none())
            .map(|i| i.mid.clone())
            .collect();
        let offer = sdp_of(request.session_description.as_ref(), SdpType::Offer);
        match super::media::close(state, &key, &closed, offer.filter(|_| negotiated)) {
            Ok(Some(own)) => Some(own),
            Ok(None) => description,
            Err(refused) => return refused,
        }
    };
    if let Err(refused) = commit(&mut store, key, session) {
        return refused;
    }
    ok(TracksAnswer {
        requires_immediate_renegotiation: false,
        session_description: description,
        tracks: items,
    })
}

/// `tracks/update`: items by `mid` of this session's active tracks; a remote one may point its
/// transceiver at another published track (`sessionId`, `trackName`). An unknown `mid`, or a
/// track to point at that is not published, is an item `not_found_track_error`; a `location`
/// other than the track's an item `update_track_error`.
pub(super) fn update(state: &State, params: &Params, body: &[u8]) -> Response {
    let request: UpdateRequest = match decode(body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    if let Err(refused) = at_most_64(&request.tracks) {
        return refused;
    }
    if let Some(i) = request.tracks.iter().position(|t| !given(&t.mid)) {
        return invalid_params(&format!("tracks[{i}]: mid is required and not empty"));
    }
    let mut store = state.store();
    let (key, mut session) = match open(&mut store, state, params) {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let mut items = Vec::new();
    #[cfg(feature = "fake-media")]
    let mut retargets = Vec::new();
    for t in request.tracks {
        let mid = t.mid.unwrap_or_default();
        let item = TrackItem {
            mid: mid.clone(),
            ..TrackItem::default()
        };
        if let Some(fault) = item_fault(state, &ops::SFU_TRACKS_UPDATE) {
            items.push(item.faulted(fault));
            continue;
        }
        let Some(at) = session.tracks.iter().position(|x| x.active && x.mid == mid) else {
            items.push(item.failed("not_found_track_error", TRACK_NOT_FOUND));
            continue;
        };
        let (location, current_from, current_name) = {
            let track = &session.tracks[at];
            (track.location, track.session.clone(), track.name.clone())
        };
        if t.location.is_some_and(|l| l != location) {
            let why = "the location is not the track's";
            items.push(item.failed("update_track_error", why));
            continue;
        }
        let retarget =
            location == Location::Remote && (t.session_id.is_some() || given(&t.track_name));
        let (from, name) = match retarget {
            true => (
                t.session_id.or(current_from).unwrap_or_default(),
                t.track_name.unwrap_or(current_name),
            ),
            false => (current_from.unwrap_or_default(), current_name),
        };
        let item = TrackItem {
            location: Some(location),
            session_id: (location == Location::Remote).then(|| from.clone()),
            track_name: Some(name.clone()),
            ..item
        };
        if retarget {
            let found = publisher(&store, state, &key.0, &from).and_then(|s| s.published(&name));
            let Some(published) = found else {
                items.push(item.failed("not_found_track_error", TRACK_NOT_FOUND));
                continue;
            };
            let kind = published.kind.clone();
            #[cfg(feature = "fake-media")]
            retargets.push((mid.clone(), from.clone(), name.clone()));
            if let Some(track) = session.tracks.get_mut(at) {
                track.session = Some(from);
                track.name = name;
                track.kind = t.kind.or(kind).or(track.kind.take());
            }
        }
        items.push(item);
    }
    if let Err(refused) = commit(&mut store, key.clone(), session) {
        return refused;
    }
    // The media moves once the API took the change.
    #[cfg(feature = "fake-media")]
    for (mid, from, name) in retargets {
        super::media::retarget(state, &key, &mid, &from, &name);
    }
    ok(TracksAnswer {
        requires_immediate_renegotiation: false,
        session_description: None,
        tracks: items,
    })
}
