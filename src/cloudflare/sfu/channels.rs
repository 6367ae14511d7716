//! Data channels as requests name them and answers give them back.

use super::batch::Batch;
use super::model::{checked_session, refused, Location, SessionDescription};
use crate::generated::sfu::types as wire;
use crate::{Error, SessionId};

/// A data channel as a request names it: one this session publishes
/// ([`DataChannelRequest::local`]) or subscribes to ([`DataChannelRequest::remote`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataChannelRequest {
    /// Publish or subscribe.
    pub location: Location,
    /// The channel's name (non-empty; `server-events` is for establishing the transport).
    pub name: String,
    /// The publishing session, for a subscription.
    pub session_id: Option<SessionId>,
    /// In-order delivery (the service's default: yes).
    pub ordered: Option<bool>,
    /// At most this many retransmissions (not with `max_packet_life_time`).
    pub max_retransmits: Option<u32>,
    /// Retransmit for at most this many milliseconds (not with `max_retransmits`).
    pub max_packet_life_time: Option<u32>,
    /// Remote only: the subscriber's first message opens the gate (and is consumed).
    pub wait_for_ack: Option<bool>,
    /// Remote only: this subscriber may reply (one per publisher channel).
    pub can_reply: Option<bool>,
}

impl DataChannelRequest {
    /// Publishes the channel `name`.
    pub fn local(name: impl Into<String>) -> Self {
        Self::at(Location::Local, name.into(), None)
    }

    /// Subscribes to the channel `name` that session `session_id` publishes.
    pub fn remote(session_id: impl Into<SessionId>, name: impl Into<String>) -> Self {
        Self::at(Location::Remote, name.into(), Some(session_id.into()))
    }

    fn at(location: Location, name: String, session_id: Option<SessionId>) -> Self {
        Self {
            location,
            name,
            session_id,
            ordered: None,
            max_retransmits: None,
            max_packet_life_time: None,
            wait_for_ack: None,
            can_reply: None,
        }
    }

    /// Unordered delivery.
    pub fn unordered(mut self) -> Self {
        self.ordered = Some(false);
        self
    }

    /// At most `n` retransmissions.
    pub fn max_retransmits(mut self, n: u32) -> Self {
        self.max_retransmits = Some(n);
        self
    }

    /// Retransmit for at most `ms` milliseconds.
    pub fn max_packet_life_time(mut self, ms: u32) -> Self {
        self.max_packet_life_time = Some(ms);
        self
    }

    pub(crate) fn to_wire(&self) -> Result<wire::SfuDataChannelObject, Error> {
        let name = wire::SfuDataChannelObjectDataChannelName::try_from(self.name.clone())
            .map_err(|_| refused("a data channel's name must not be empty"))?;
        if self.max_retransmits.is_some() && self.max_packet_life_time.is_some() {
            return Err(refused(
                "maxRetransmits and maxPacketLifeTime are mutually exclusive",
            ));
        }
        let session_id = match (&self.session_id, self.location) {
            (Some(id), _) => Some(checked_session(id)?),
            (None, Location::Remote) => {
                return Err(refused("a remote data channel needs its session"))
            }
            (None, Location::Local) => None,
        };
        Ok(wire::SfuDataChannelObject {
            location: Some(self.location.to_wire()),
            session_id,
            data_channel_name: Some(name),
            ordered: self.ordered,
            max_retransmits: self.max_retransmits.map(i64::from),
            max_packet_life_time: self.max_packet_life_time.map(i64::from),
            wait_for_ack: self.wait_for_ack,
            can_reply: self.can_reply,
        })
    }

    pub(crate) fn names(&self, item: &wire::SfuDataChannelResult) -> bool {
        item.data_channel_name.as_deref() == Some(self.name.as_str())
            && item
                .location
                .as_deref()
                .is_none_or(|l| l == self.location.as_str())
            && match (&item.session_id, &self.session_id) {
                (Some(answer), Some(asked)) => answer == asked.as_str(),
                _ => true,
            }
    }
}

/// The highest data channel ID (SCTP stream IDs run to 65534).
pub(crate) const MAX_CHANNEL_ID: f64 = 65534.0;

/// A data channel ID as the answer gave it (a JSON number: `1.0` is 1), if it is one.
pub(crate) fn channel_id(id: Option<f64>) -> Option<u16> {
    let id = id.filter(|id| id.fract() == 0.0 && (0.0..=MAX_CHANNEL_ID).contains(id))?;
    // In range and whole: the conversion is exact.
    Some(id as u16)
}

/// A data channel the SFU accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataChannelAnswer {
    /// Its ID on this session's endpoint (publisher and subscriber IDs differ).
    pub id: u16,
    /// Its name, as the answer gave it.
    pub name: Option<String>,
}

/// The answer to establishing the data channel transport.
#[must_use = "its data channel can have failed: read `data_channel.failed()`, or call `data_channel.into_result()`"]
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EstablishedTransport {
    /// The SFU's offer (or answer, if this endpoint sent an offer).
    pub session_description: Option<SessionDescription>,
    /// The SFU made an offer: answer it with `renegotiate`.
    pub requires_immediate_renegotiation: bool,
    /// The channel's outcome.
    pub data_channel: Batch<DataChannelRequest, DataChannelAnswer>,
}
