//! Tracks as requests name them and answers give them back.

use super::batch::{Batch, Closed};
use super::model::{checked_session, refused, Location, SessionDescription};
use crate::generated::sfu::types as wire;
use crate::{Error, SessionId};

/// How simulcast layers are chosen for a pulled track.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Simulcast {
    /// The RID to receive.
    pub preferred_rid: Option<String>,
    /// How the other RIDs are ranked.
    pub priority_ordering: Option<RidOrdering>,
    /// What to do when the preferred RID is not available.
    pub rid_not_available: Option<RidOrdering>,
}

/// A simulcast ordering rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RidOrdering {
    /// No ordering.
    None,
    /// By RID, ASCII order.
    Asciibetical,
}

impl Simulcast {
    /// Prefers the layer `rid`.
    pub fn preferring(rid: impl Into<String>) -> Self {
        Self {
            preferred_rid: Some(rid.into()),
            ..Self::default()
        }
    }

    fn to_wire(&self) -> wire::SfuSimulcast {
        use wire::{SfuSimulcastPriorityOrdering as P, SfuSimulcastRidNotAvailable as R};
        wire::SfuSimulcast {
            preferred_rid: self.preferred_rid.clone(),
            priority_ordering: self.priority_ordering.map(|o| match o {
                RidOrdering::None => P::None,
                RidOrdering::Asciibetical => P::Asciibetical,
            }),
            rid_not_available: self.rid_not_available.map(|o| match o {
                RidOrdering::None => R::None,
                RidOrdering::Asciibetical => R::Asciibetical,
            }),
        }
    }
}

/// A track as a request names it: one this session publishes ([`TrackRequest::local`]) or one
/// it pulls from another session ([`TrackRequest::remote`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackRequest {
    /// Publish or pull.
    pub location: Location,
    /// The publication's name within its publishing session (non-empty).
    pub track_name: String,
    /// The transceiver's `mid`; `#name` means the existing transceiver of track `name`.
    pub mid: Option<String>,
    /// The publishing session, for a pulled track.
    pub session_id: Option<SessionId>,
    /// `audio` or `video`: needed when the SFU makes the offer.
    pub kind: Option<String>,
    /// A sendrecv transceiver (only when the SFU makes the offer).
    pub bidirectional_media_stream: bool,
    /// Simulcast preferences, for a pulled track.
    pub simulcast: Option<Simulcast>,
}

impl TrackRequest {
    /// Publishes this endpoint's track `track_name` on transceiver `mid` (from its offer).
    pub fn local(mid: impl Into<String>, track_name: impl Into<String>) -> Self {
        Self {
            location: Location::Local,
            track_name: track_name.into(),
            mid: Some(mid.into()),
            session_id: None,
            kind: None,
            bidirectional_media_stream: false,
            simulcast: None,
        }
    }

    /// Pulls the track `track_name` that session `session_id` publishes.
    pub fn remote(session_id: impl Into<SessionId>, track_name: impl Into<String>) -> Self {
        Self {
            location: Location::Remote,
            track_name: track_name.into(),
            mid: None,
            session_id: Some(session_id.into()),
            kind: None,
            bidirectional_media_stream: false,
            simulcast: None,
        }
    }

    /// On transceiver `mid`.
    pub fn mid(mut self, mid: impl Into<String>) -> Self {
        self.mid = Some(mid.into());
        self
    }

    /// With the transceiver kind (`audio`, `video`).
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    /// As a sendrecv transceiver.
    pub fn bidirectional(mut self) -> Self {
        self.bidirectional_media_stream = true;
        self
    }

    /// With simulcast preferences.
    pub fn simulcast(mut self, simulcast: Simulcast) -> Self {
        self.simulcast = Some(simulcast);
        self
    }

    pub(crate) fn to_wire(&self) -> Result<wire::SfuTrackObject, Error> {
        let track_name = wire::SfuTrackObjectTrackName::try_from(self.track_name.clone())
            .map_err(|_| refused("a track's name must not be empty"))?;
        let session_id = match (&self.session_id, self.location) {
            (Some(id), _) => Some(checked_session(id)?),
            (None, Location::Remote) => return Err(refused("a remote track needs its session")),
            (None, Location::Local) => None,
        };
        Ok(wire::SfuTrackObject {
            location: Some(self.location.to_wire()),
            mid: self.mid.clone(),
            session_id,
            track_name: Some(track_name),
            kind: self.kind.clone(),
            bidirectional_media_stream: self.bidirectional_media_stream.then_some(true),
            simulcast: self.simulcast.as_ref().map(Simulcast::to_wire),
        })
    }

    /// The track an answer item names that no request item asked for: one the SFU discovered
    /// in the offer (`autoDiscover`), if the item names it.
    pub(crate) fn discovered(item: &wire::SfuTrackResult) -> Option<Self> {
        let track_name = item.track_name.clone().filter(|name| !name.is_empty())?;
        Some(Self {
            location: match item.location.as_deref() {
                Some("remote") => Location::Remote,
                _ => Location::Local,
            },
            track_name,
            mid: item.mid.clone(),
            session_id: item.session_id.clone().map(SessionId::new),
            kind: item.kind.clone(),
            bidirectional_media_stream: false,
            simulcast: None,
        })
    }

    /// Whether an answer item names this track.
    pub(crate) fn names(&self, item: &wire::SfuTrackResult) -> bool {
        item.track_name.as_deref() == Some(self.track_name.as_str())
            && match (&item.session_id, &self.session_id) {
                (Some(answer), Some(asked)) => answer == asked.as_str(),
                _ => true,
            }
    }
}

/// Tracks to add to a session: [`Session::add_tracks`](super::Session::add_tracks).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewTracks {
    /// The tracks (at most 64).
    pub tracks: Vec<TrackRequest>,
    /// This endpoint's offer, when it publishes.
    pub offer: Option<SessionDescription>,
    /// The SFU names every new track of the offered SDP itself.
    pub auto_discover: bool,
}

impl NewTracks {
    /// These tracks, without an offer.
    pub fn new(tracks: impl IntoIterator<Item = TrackRequest>) -> Self {
        Self {
            tracks: tracks.into_iter().collect(),
            offer: None,
            auto_discover: false,
        }
    }

    /// With this endpoint's offer.
    pub fn offer(mut self, offer: SessionDescription) -> Self {
        self.offer = Some(offer);
        self
    }

    /// With `autoDiscover`.
    pub fn auto_discover(mut self) -> Self {
        self.auto_discover = true;
        self
    }
}

/// The most tracks one request may name.
pub const MAX_TRACKS_PER_REQUEST: usize = 64;

pub(crate) fn wire_tracks(tracks: &[TrackRequest]) -> Result<Vec<wire::SfuTrackObject>, Error> {
    if tracks.len() > MAX_TRACKS_PER_REQUEST {
        return Err(refused(&format!(
            "at most {MAX_TRACKS_PER_REQUEST} tracks per request, not {}",
            tracks.len()
        )));
    }
    tracks.iter().map(TrackRequest::to_wire).collect()
}

/// A track the SFU accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackAnswer {
    /// Its transceiver's `mid` in this session.
    pub mid: Option<String>,
    /// Its name, as the answer gave it.
    pub track_name: Option<String>,
    /// The publishing session, for a pulled track, as the answer gave it.
    pub session_id: Option<SessionId>,
}

impl TrackAnswer {
    pub(crate) fn from_wire(item: wire::SfuTrackResult) -> Self {
        Self {
            mid: item.mid,
            track_name: item.track_name,
            session_id: item.session_id.map(SessionId::new),
        }
    }
}

/// The answer to adding or updating tracks.
#[must_use = "its tracks can hold failed items: read `tracks.failed()`, or call `tracks.into_result()`"]
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TracksAnswer {
    /// The SFU's answer to this endpoint's offer, or its own offer to answer with
    /// [`Session::renegotiate`](super::Session::renegotiate).
    pub session_description: Option<SessionDescription>,
    /// The SFU made an offer: answer it with `renegotiate` before anything else.
    pub requires_immediate_renegotiation: bool,
    /// Each track's outcome; with `autoDiscover`, also each track the SFU named itself (as the
    /// answer described it).
    pub tracks: Batch<TrackRequest, TrackAnswer>,
}

/// How tracks are closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseTracks {
    /// Without renegotiating (`force: true`): no SDP goes either way.
    Force,
    /// With this endpoint's new offer (`force: false`); the answer carries the SFU's answer.
    Negotiated(SessionDescription),
}

/// The answer to closing tracks.
#[must_use = "its tracks can hold failed items: read `tracks.failed()`, or call `tracks.into_result()`"]
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ClosedTracks {
    /// The SFU's answer to a negotiated close.
    pub session_description: Option<SessionDescription>,
    /// Whether the SFU asks for a renegotiation now.
    pub requires_immediate_renegotiation: bool,
    /// Each `mid`'s outcome: closed now, or already (`close_track_error`).
    pub tracks: Batch<String, Closed>,
}
