//! What the SFU calls take and give back that is not a track, a data channel or an adapter:
//! session descriptions, sessions and their state; and how each maps to the wire types
//! generated from `spec/cloudflare-realtime-sfu.yaml` (field names come from the spec, never
//! from here).

use std::fmt;

use super::channels::channel_id;
use crate::generated::sfu::types as wire;
use crate::{Error, SessionId};

/// Whether a session description is an offer or an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SdpType {
    /// An SDP offer.
    Offer,
    /// An SDP answer.
    Answer,
}

/// An SDP offer or answer. The SDP carries ICE credentials, so `Debug` shows only its type and
/// length.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionDescription {
    /// Offer or answer.
    pub kind: SdpType,
    /// The SDP text, passed through as is.
    pub sdp: String,
}

impl fmt::Debug for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionDescription")
            .field("kind", &self.kind)
            .field("sdp", &format_args!("<{} bytes>", self.sdp.len()))
            .finish()
    }
}

impl SessionDescription {
    /// An offer.
    pub fn offer(sdp: impl Into<String>) -> Self {
        Self {
            kind: SdpType::Offer,
            sdp: sdp.into(),
        }
    }

    /// An answer.
    pub fn answer(sdp: impl Into<String>) -> Self {
        Self {
            kind: SdpType::Answer,
            sdp: sdp.into(),
        }
    }

    pub(crate) fn to_wire(&self) -> wire::SfuSessionDescription {
        wire::SfuSessionDescription {
            sdp: Some(self.sdp.clone()),
            type_: Some(match self.kind {
                SdpType::Offer => wire::SfuSessionDescriptionType::Offer,
                SdpType::Answer => wire::SfuSessionDescriptionType::Answer,
            }),
        }
    }

    /// The description of an answer, if it has both a type and an SDP.
    pub(crate) fn from_wire(description: Option<wire::SfuSessionDescription>) -> Option<Self> {
        let description = description?;
        let kind = match description.type_? {
            wire::SfuSessionDescriptionType::Offer => SdpType::Offer,
            wire::SfuSessionDescriptionType::Answer => SdpType::Answer,
        };
        Some(Self {
            kind,
            sdp: description.sdp?,
        })
    }

    /// `self` if it is of `kind`, else why not.
    pub(crate) fn expect(&self, kind: SdpType, what: &str) -> Result<(), Error> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "{what} must be an SDP {}, not an {}; nothing was sent",
                kind_name(kind),
                kind_name(self.kind)
            )))
        }
    }
}

fn kind_name(kind: SdpType) -> &'static str {
    match kind {
        SdpType::Offer => "offer",
        SdpType::Answer => "answer",
    }
}

/// Where a track or data channel is, from this session's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Location {
    /// This session publishes it.
    Local,
    /// This session subscribes to another session's publication.
    Remote,
}

impl Location {
    pub(crate) fn to_wire(self) -> wire::SfuLocation {
        match self {
            Location::Local => wire::SfuLocation::Local,
            Location::Remote => wire::SfuLocation::Remote,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Location::Local => "local",
            Location::Remote => "remote",
        }
    }
}

/// A session ID sent in a body: checked like one in a path.
pub(crate) fn checked_session(id: &SessionId) -> Result<String, Error> {
    Ok(id.segment()?.to_string())
}

pub(crate) fn refused(why: &str) -> Error {
    Error::InvalidArgument(format!("{why}; nothing was sent"))
}

/// A session just created.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewSession {
    /// Its ID, as the answer gave it (checked when a request uses it).
    pub session_id: SessionId,
    /// An SDP the answer carried, if any.
    pub session_description: Option<SessionDescription>,
}

/// Options of [`RealtimeClient::create_session_with`](super::RealtimeClient::create_session_with).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionOptions {
    /// The session will connect to an ICE-lite peer (another SFU, a server): `thirdparty`.
    pub third_party: bool,
    /// A label for diagnostics: `correlationId` (not a key: a retry would create another
    /// session, so none is made).
    pub correlation_id: Option<String>,
}

impl SessionOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// For an ICE-lite peer (`thirdparty=true`).
    pub fn third_party(mut self) -> Self {
        self.third_party = true;
        self
    }

    /// With a diagnostic label (`correlationId`).
    pub fn correlation_id(mut self, label: impl Into<String>) -> Self {
        self.correlation_id = Some(label.into());
        self
    }
}

/// A track or data channel's status.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Active.
    Active,
    /// Inactive (closed tracks stay listed so).
    Inactive,
    /// Being set up (data channels).
    Initializing,
    /// A status this client does not know, as text.
    Other(String),
}

impl Status {
    fn parse(status: Option<String>) -> Option<Self> {
        Some(match status?.as_str() {
            "active" => Status::Active,
            "inactive" => Status::Inactive,
            "initializing" => Status::Initializing,
            other => Status::Other(other.to_string()),
        })
    }
}

/// A session's tracks and data channels, as the SFU lists them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SessionState {
    /// The tracks, closed ones included.
    pub tracks: Vec<TrackState>,
    /// The data channels.
    pub data_channels: Vec<DataChannelState>,
}

/// One track of a session's state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackState {
    /// `local` or `remote`, as the answer wrote it.
    pub location: Option<String>,
    /// The transceiver.
    pub mid: Option<String>,
    /// The track's name.
    pub track_name: Option<String>,
    /// The publishing session, for a pulled track.
    pub session_id: Option<SessionId>,
    /// Its status.
    pub status: Option<Status>,
}

/// One data channel of a session's state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataChannelState {
    /// `local` or `remote`, as the answer wrote it.
    pub location: Option<String>,
    /// The channel's name.
    pub name: Option<String>,
    /// Its ID on this session (`None` if the answer gave none, or one out of range).
    pub id: Option<u16>,
    /// The publishing session, for a subscription.
    pub session_id: Option<SessionId>,
    /// Its status.
    pub status: Option<Status>,
}

impl From<wire::SfuSessionState> for SessionState {
    fn from(state: wire::SfuSessionState) -> Self {
        Self {
            tracks: state
                .tracks
                .into_iter()
                .map(|t| TrackState {
                    location: t.location,
                    mid: t.mid,
                    track_name: t.track_name,
                    session_id: t.session_id.map(SessionId::new),
                    status: Status::parse(t.status),
                })
                .collect(),
            data_channels: state
                .data_channels
                .into_iter()
                .map(|c| DataChannelState {
                    location: c.location,
                    name: c.data_channel_name,
                    id: channel_id(c.id),
                    session_id: c.session_id.map(SessionId::new),
                    status: Status::parse(c.status),
                })
                .collect(),
        }
    }
}
