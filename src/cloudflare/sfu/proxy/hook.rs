//! What the app decides: who may do what through the proxy.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::SessionId;

/// A request the proxy is about to relay, as the app's hook sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyRequest {
    /// The session the caller owns and acts on (its token checked); for the ICE servers, the
    /// session whose token it showed; `None` for a new session and the adapters, which belong
    /// to no session.
    pub session: Option<SessionId>,
    /// What it asks for.
    pub action: Action,
    /// The query string the browser added (partytracks' `apiExtraParams`: a room, a user),
    /// decoded, in order. None of it goes upstream.
    pub params: Vec<(String, String)>,
}

/// What a request asks the SFU to do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// `sessions/new`.
    CreateSession,
    /// `generate-ice-servers`.
    IceServers,
    /// Read the session's state.
    State,
    /// `tracks/new`: publish the caller's own tracks (by name; every item that names no other
    /// session), and pull tracks other sessions publish (their session, the track's name).
    Tracks {
        /// Track names the caller publishes.
        publish: Vec<String>,
        /// Tracks the caller pulls: the publisher's session and the track's name.
        pull: Vec<(SessionId, String)>,
        /// Whether the SFU is asked to publish, besides, every track of the offer it finds
        /// (`autoDiscover`: tracks the request does not name).
        auto_discover: bool,
    },
    /// `renegotiate`.
    Renegotiate,
    /// `tracks/update`: transceivers pointed at other tracks, or simulcast preferences; the
    /// remote tracks named.
    UpdateTracks {
        /// Tracks the caller's transceivers are pointed at: publisher's session, track name.
        pull: Vec<(SessionId, String)>,
    },
    /// `tracks/close`.
    CloseTracks,
    /// `datachannels/establish`; a channel of another session it names.
    EstablishDataChannels {
        /// Channels of other sessions named: the publisher's session and the channel's name.
        pull: Vec<(SessionId, String)>,
    },
    /// `datachannels/new`: channels published by name, and channels pulled from other sessions.
    DataChannels {
        /// Channel names the caller publishes.
        publish: Vec<String>,
        /// Channels the caller subscribes to: the publisher's session and the channel's name.
        pull: Vec<(SessionId, String)>,
        /// Whether a channel asks to reply to its publisher (`canReply`: it takes the right
        /// from whoever held it).
        can_reply: bool,
    },
    /// `datachannels/update`.
    UpdateDataChannels {
        /// Channels of other sessions named.
        pull: Vec<(SessionId, String)>,
        /// Whether a channel asks to reply to its publisher.
        can_reply: bool,
    },
    /// `datachannels/close`.
    CloseDataChannels,
    /// `adapters/websocket/new`: the SFU streams tracks to or from a WebSocket endpoint the
    /// request names (each item: the session it names, if any, and the track's name). Such a
    /// request belongs to no session and shows no token: refused unless the hook allows it.
    NewAdapters {
        /// Each adapter's session (for a track it streams out) and track name.
        tracks: Vec<(Option<SessionId>, String)>,
    },
    /// `adapters/websocket/close`. Refused unless the hook allows it.
    CloseAdapters,
}

/// Why the app refuses a request: the status and the words the caller gets (as
/// `{"errorCode": "forbidden", "errorDescription": ...}`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// The HTTP status (400 to 499; anything else is sent as 403).
    pub status: u16,
    /// What the caller is told.
    pub message: String,
}

impl Refusal {
    /// A 403 with `message`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self {
            status: 403,
            message: message.into(),
        }
    }

    /// Another 4xx status with `message`.
    pub fn with_status(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// The boxed future a hook returns.
pub(super) type Decision = Pin<Box<dyn Future<Output = Result<(), Refusal>> + Send>>;

/// The app's hook, boxed.
pub(super) type Hook = Arc<dyn Fn(ProxyRequest) -> Decision + Send + Sync>;

/// The default: everything an SFU is for (a session's owner publishes, pulls any track of the
/// app, closes, renegotiates, uses data channels), and no adapter (it streams a session's media
/// to any endpoint the request names: a backend's decision, not a browser's).
pub(super) fn default_hook() -> Hook {
    Arc::new(|request: ProxyRequest| -> Decision {
        Box::pin(async move {
            match request.action {
                Action::NewAdapters { .. } | Action::CloseAdapters => Err(Refusal::forbidden(
                    "WebSocket adapters are not offered through this proxy",
                )),
                _ => Ok(()),
            }
        })
    })
}
