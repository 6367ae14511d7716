//! What the fake remembers of the Realtime SFU data plane: sessions with their tracks and data
//! channels, WebSocket adapters, and the IDs of expired sessions. Bounded like the rest of the
//! store: counts per app and per session, bytes per session, and every byte counted in the
//! store's running total (so SFU state and apps share [`MAX_STORE_BYTES`]).

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::{text_weight, Table, Weight, MAX_STORE_BYTES};

/// How long a session lives unused unless configured otherwise (Cloudflare's sessions "time
/// out eventually", about 30 s without activity).
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(30);
/// The most live sessions one app may have (a limit of the fake; Cloudflare documents none).
pub(crate) const MAX_SESSIONS_PER_APP: usize = 256;
/// The most live sessions across all apps.
pub(crate) const MAX_SESSIONS: usize = 2_000;
/// The most tracks one session lists, closed ones included (they stay listed as `inactive`).
pub(crate) const MAX_TRACKS_PER_SESSION: usize = 256;
/// The most data channels one session lists, closed ones included.
pub(crate) const MAX_CHANNELS_PER_SESSION: usize = 256;
/// The most bytes one session may hold, about as its JSON.
pub(crate) const MAX_SESSION_BYTES: usize = 64 * 1024;
/// The most live adapters one app may have, and across all apps.
pub(crate) const MAX_ADAPTERS_PER_APP: usize = 64;
pub(crate) const MAX_ADAPTERS: usize = 2_000;
/// How many expired sessions are remembered (to answer 410); past it the oldest are forgotten
/// and answer 404 like any unknown session.
pub(crate) const MAX_EXPIRED_SESSIONS: usize = 10_000;

/// `local`: the session publishes; `remote`: it subscribes to another session's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Location {
    Local,
    Remote,
}

/// A media track of a session.
#[derive(Clone)]
pub(crate) struct Track {
    pub(crate) location: Location,
    pub(crate) mid: String,
    pub(crate) name: String,
    /// The publisher's session (remote tracks).
    pub(crate) session: Option<String>,
    pub(crate) kind: Option<String>,
    /// `false` once closed: it stays listed, as `inactive`.
    pub(crate) active: bool,
}

/// A data channel of a session (its settings are not kept: nothing the fake answers shows
/// them).
#[derive(Clone)]
pub(crate) struct Channel {
    pub(crate) location: Location,
    pub(crate) name: String,
    /// The channel's ID on this session (0-65534).
    pub(crate) id: u32,
    /// The publisher's session (remote channels).
    pub(crate) session: Option<String>,
    pub(crate) active: bool,
}

/// A session: a PeerConnection with the SFU.
#[derive(Clone)]
pub(crate) struct Session {
    pub(crate) tracks: Vec<Track>,
    pub(crate) channels: Vec<Channel>,
    /// Whether `datachannels/establish` was called (once per session).
    pub(crate) transport: bool,
    /// Whether the SFU made an offer that waits for the endpoint's answer (renegotiate).
    pub(crate) offer_pending: bool,
    pub(crate) last_used: Instant,
    /// Held open by a live ingest adapter: it does not expire while the adapter runs.
    pub(crate) pinned: bool,
    /// The next mid the SFU gives a transceiver it adds (past every numeric mid seen).
    pub(crate) next_mid: u64,
    pub(crate) next_channel_id: u32,
}

impl Session {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            tracks: Vec::new(),
            channels: Vec::new(),
            transport: false,
            offer_pending: false,
            last_used: now,
            pinned: false,
            next_mid: 0,
            next_channel_id: 0,
        }
    }

    /// Whether it has been unused for `idle` (a pinned session never is).
    pub(crate) fn expired(&self, now: Instant, idle: Duration) -> bool {
        !self.pinned && now.saturating_duration_since(self.last_used) >= idle
    }

    /// A mid for a transceiver the SFU adds.
    pub(crate) fn new_mid(&mut self) -> String {
        let mid = self.next_mid;
        self.next_mid = self.next_mid.saturating_add(1);
        mid.to_string()
    }

    /// Notes a mid the endpoint chose, so the SFU's own never collide with it.
    pub(crate) fn saw_mid(&mut self, mid: &str) {
        if let Ok(n) = mid.parse::<u64>() {
            self.next_mid = self.next_mid.max(n.saturating_add(1));
        }
    }

    /// The active track this session publishes under `name` (the latest, if several).
    pub(crate) fn published(&self, name: &str) -> Option<&Track> {
        self.tracks
            .iter()
            .rev()
            .find(|t| t.active && t.location == Location::Local && t.name == name)
    }

    /// The active data channel this session publishes under `name`.
    pub(crate) fn published_channel(&self, name: &str) -> Option<&Channel> {
        self.channels
            .iter()
            .find(|c| c.active && c.location == Location::Local && c.name == name)
    }
}

impl Weight for Session {
    fn weight(&self) -> usize {
        let tracks: usize = self
            .tracks
            .iter()
            .map(|t| {
                text_weight(
                    [&t.mid, &t.name]
                        .into_iter()
                        .chain(&t.session)
                        .chain(&t.kind),
                ) + 64
            })
            .sum();
        let channels: usize = self
            .channels
            .iter()
            .map(|c| text_weight([&c.name].into_iter().chain(&c.session)) + 96)
            .sum();
        128 + tracks + channels
    }
}

/// A WebSocket adapter.
#[derive(Clone)]
pub(crate) struct Adapter {
    pub(crate) location: Location,
    pub(crate) track_name: String,
    /// The ingest adapter's new session, or the egress adapter's source.
    pub(crate) session: String,
    pub(crate) opened: Instant,
}

impl Weight for Adapter {
    fn weight(&self) -> usize {
        text_weight([&self.track_name, &self.session]) + 96
    }
}

/// The SFU's state, across apps.
#[derive(Default)]
pub(crate) struct Sfu {
    /// (app, session) → session.
    pub(crate) sessions: Table<(String, String), Session>,
    /// (app, adapter) → adapter (a closed adapter is forgotten).
    pub(crate) adapters: Table<(String, String), Adapter>,
    expired: Expired,
}

/// The sessions that expired, remembered by ID only, oldest first.
#[derive(Default)]
struct Expired {
    ids: HashSet<(String, String)>,
    order: VecDeque<(String, String)>,
}

/// What a request for a session finds.
pub(crate) enum Lookup {
    Live,
    Expired,
    Unknown,
}

impl Sfu {
    /// The bytes it holds, for the store's total.
    pub(crate) fn weight(&self) -> usize {
        self.sessions.weight + self.adapters.weight
    }

    /// Whether the session `key` is live, expired (and from now on remembered as such) or
    /// unknown.
    pub(crate) fn lookup(
        &mut self,
        key: &(String, String),
        now: Instant,
        idle: Duration,
    ) -> Lookup {
        match self.sessions.get(key) {
            Some(session) if session.expired(now, idle) => {
                self.expire(key.clone());
                Lookup::Expired
            }
            Some(_) => Lookup::Live,
            None if self.expired.ids.contains(key) => Lookup::Expired,
            None => Lookup::Unknown,
        }
    }

    /// The live session `key` (an expired one is `None`, though not yet forgotten).
    pub(crate) fn live(
        &self,
        key: &(String, String),
        now: Instant,
        idle: Duration,
    ) -> Option<&Session> {
        self.sessions.get(key).filter(|s| !s.expired(now, idle))
    }

    /// Forgets the session `key`'s state and remembers that it expired.
    fn expire(&mut self, key: (String, String)) {
        self.sessions.remove(&key);
        if self.expired.ids.insert(key.clone()) {
            self.expired.order.push_back(key);
        }
        while self.expired.order.len() > MAX_EXPIRED_SESSIONS {
            if let Some(oldest) = self.expired.order.pop_front() {
                self.expired.ids.remove(&oldest);
            }
        }
    }

    /// Expires every session unused for `idle`, making room for new ones.
    pub(crate) fn sweep(&mut self, now: Instant, idle: Duration) {
        let gone: Vec<(String, String)> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.expired(now, idle))
            .map(|(key, _)| key.clone())
            .collect();
        for key in gone {
            self.expire(key);
        }
    }

    /// Makes every session expired now (held ones too: their adapters stop holding them).
    pub(crate) fn expire_all(&mut self) {
        let all: Vec<(String, String)> = self.sessions.keys().cloned().collect();
        for key in all {
            self.expire(key);
        }
    }

    /// Whether `app` may have `more` new sessions, or why not.
    pub(crate) fn room_for_sessions(&self, app: &str, more: usize) -> Result<(), String> {
        let held = self.sessions.keys().filter(|(a, _)| a == app).count();
        if held + more > MAX_SESSIONS_PER_APP || self.sessions.len() + more > MAX_SESSIONS {
            return Err(format!(
                "the fake keeps at most {MAX_SESSIONS_PER_APP} live sessions per app and \
                 {MAX_SESSIONS} in all (a limit of the fake, not of the API); sessions expire \
                 when unused, and POST /__fake/reset forgets them"
            ));
        }
        Ok(())
    }

    /// Whether `app` may have `more` new adapters, or why not.
    pub(crate) fn room_for_adapters(&self, app: &str, more: usize) -> Result<(), String> {
        let held = self.adapters.keys().filter(|(a, _)| a == app).count();
        if held + more > MAX_ADAPTERS_PER_APP || self.adapters.len() + more > MAX_ADAPTERS {
            return Err(format!(
                "the fake keeps at most {MAX_ADAPTERS_PER_APP} live adapters per app and \
                 {MAX_ADAPTERS} in all (a limit of the fake, not of the API); close some first"
            ));
        }
        Ok(())
    }
}

/// Whether `session` may replace one of weight `replacing` in a store that weighs `total`, or
/// why not: its counts and bytes within the per-session limits, the store within its total.
pub(crate) fn fits(session: &Session, replacing: usize, total: usize) -> Result<(), String> {
    let weight = session.weight();
    if session.tracks.len() > MAX_TRACKS_PER_SESSION
        || session.channels.len() > MAX_CHANNELS_PER_SESSION
        || weight > MAX_SESSION_BYTES
    {
        return Err(format!(
            "a session holds at most {MAX_TRACKS_PER_SESSION} tracks and \
             {MAX_CHANNELS_PER_SESSION} data channels, closed ones included, and \
             {MAX_SESSION_BYTES} bytes (a limit of the fake, not of the API)"
        ));
    }
    if total.saturating_sub(replacing) + weight > MAX_STORE_BYTES {
        return Err(format!(
            "the fake server holds at most {MAX_STORE_BYTES} bytes in all; POST /__fake/reset \
             empties it"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> (String, String) {
        ("app".into(), s.into())
    }

    #[test]
    fn idle_sessions_expire_and_are_remembered_within_bounds() {
        let mut sfu = Sfu::default();
        let now = Instant::now();
        let idle = Duration::from_secs(30);
        sfu.sessions.put(key("a"), Session::new(now));
        let mut held = Session::new(now);
        held.pinned = true;
        sfu.sessions.put(key("b"), held);
        let later = now + idle;
        assert!(matches!(sfu.lookup(&key("a"), now, idle), Lookup::Live));
        assert!(matches!(
            sfu.lookup(&key("a"), later, idle),
            Lookup::Expired
        ));
        assert!(matches!(sfu.lookup(&key("a"), now, idle), Lookup::Expired));
        assert!(matches!(sfu.lookup(&key("b"), later, idle), Lookup::Live));
        assert!(matches!(sfu.lookup(&key("c"), now, idle), Lookup::Unknown));
        assert_eq!(sfu.weight(), Session::new(now).weight());
        for i in 0..MAX_EXPIRED_SESSIONS + 5 {
            sfu.expire(key(&format!("x{i}")));
        }
        assert_eq!(sfu.expired.order.len(), MAX_EXPIRED_SESSIONS);
        assert_eq!(sfu.expired.ids.len(), MAX_EXPIRED_SESSIONS);
        assert!(matches!(sfu.lookup(&key("a"), now, idle), Lookup::Unknown));
    }

    #[test]
    fn a_session_is_bounded_in_tracks_and_bytes() {
        let mut session = Session::new(Instant::now());
        let track = Track {
            location: Location::Local,
            mid: "0".into(),
            name: "mic".into(),
            session: None,
            kind: None,
            active: true,
        };
        session.tracks = vec![track.clone(); MAX_TRACKS_PER_SESSION];
        assert!(fits(&session, 0, 0).is_ok());
        session.tracks.push(track.clone());
        assert!(fits(&session, 0, 0).is_err());
        session.tracks = vec![Track {
            name: "n".repeat(MAX_SESSION_BYTES),
            ..track
        }];
        assert!(fits(&session, 0, 0).is_err());
        session.tracks.clear();
        assert!(fits(&session, 0, MAX_STORE_BYTES).is_err());
    }

    #[test]
    fn mids_the_sfu_gives_skip_the_endpoints() {
        let mut session = Session::new(Instant::now());
        session.saw_mid("0");
        session.saw_mid("7");
        session.saw_mid("audio");
        assert_eq!(session.new_mid(), "8");
        assert_eq!(session.new_mid(), "9");
        session.saw_mid("18446744073709551615");
        session.new_mid();
        assert_eq!(session.new_mid(), u64::MAX.to_string(), "no overflow");
    }
}
