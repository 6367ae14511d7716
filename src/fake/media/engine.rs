//! The SFU's state: one str0m peer per session with real SDP, what each publishes (by track
//! name), where each published track's media goes, and the loop's work (poll, forward, ask for
//! keyframes).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpApi, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

use super::channels::Channels;
use super::MediaLimits;

/// A session: (app, session ID).
pub(crate) type Key = (String, String);

/// How long a track counts as carrying media after its last frame.
const FLOWING: Duration = Duration::from_secs(2);

/// The least time between two keyframe requests for one track.
const PLI_EVERY: Duration = Duration::from_millis(500);

/// One session's WebRTC peer.
struct Peer {
    rtc: Rtc,
    connected: bool,
    /// The SFU's offer waiting for the endpoint's answer.
    pending: Option<SdpPendingOffer>,
    /// When each mid last carried media (in from a publisher, out to a subscriber).
    flowing: HashMap<Mid, Instant>,
    last_input: Instant,
    /// Bytes taken in the current second, and when it began.
    taken: (u64, Instant),
    /// Bytes forwarded to it in the current second, and when it began.
    given: (u64, Instant),
    /// When a keyframe was last asked for each mid it publishes.
    last_pli: HashMap<Mid, Instant>,
    /// Media sections it was offered by the SFU (pulls).
    sections: usize,
}

/// The SFU.
pub(crate) struct Engine {
    address: SocketAddr,
    limits: MediaLimits,
    peers: HashMap<Key, Peer>,
    /// What each session publishes: (publisher, track name) → its mid.
    published: HashMap<(Key, String), Mid>,
    /// Where each published track's media goes: (publisher, mid) → subscribers' (session, mid).
    routes: HashMap<(Key, Mid), Vec<(Key, Mid)>>,
    /// Where data channel messages go.
    pub(super) channels: Channels,
    /// Peers str0m panicked on, dropped by the next drive.
    broken: Vec<Key>,
}

/// What a peer sends: its bytes and where to.
pub(crate) type Transmit = str0m::net::Transmit;

/// Counts `size` bytes in `window` (bytes this second, and when it began) if they fit in
/// `per_second`; whether they did.
fn within(window: &mut (u64, Instant), size: usize, per_second: u64, now: Instant) -> bool {
    if now.saturating_duration_since(window.1) >= Duration::from_secs(1) {
        *window = (0, now);
    }
    let size = size as u64;
    if window.0 + size > per_second {
        return false;
    }
    window.0 += size;
    true
}

/// Runs `f`; whether str0m panicked in it (a panic on one peer must not stop the others).
pub(super) fn panicked(f: impl FnOnce()) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err()
}

/// `sdp` without its ICE candidates: an ICE-lite end learns each peer's address from the
/// peer's own checks, and candidates str0m took would be kept for the session's life.
fn without_candidates(sdp: &str) -> String {
    let lines = sdp.split_inclusive('\n');
    lines.filter(|l| !l.starts_with("a=candidate:")).collect()
}

/// Whether `sdp` is a session description a WebRTC peer can use (else it is the opaque text
/// the fake answers in kind when media is off).
pub(crate) fn is_real(sdp: &str) -> bool {
    SdpOffer::from_sdp_string(sdp).is_ok()
}

impl Engine {
    pub(crate) fn new(address: SocketAddr, limits: MediaLimits) -> Self {
        Self {
            address,
            limits,
            peers: HashMap::new(),
            published: HashMap::new(),
            routes: HashMap::new(),
            channels: Channels::default(),
            broken: Vec::new(),
        }
    }

    /// `f` on `key`'s peer (made if it has none).
    pub(super) fn with_peer<R>(
        &mut self,
        key: &Key,
        f: impl FnOnce(&mut Rtc) -> R,
    ) -> Result<R, String> {
        Ok(f(&mut self.peer(key, Instant::now())?.rtc))
    }

    /// The SFU's offer to `key` of what `change` adds; it then waits for the answer.
    pub(super) fn offer_with(
        &mut self,
        key: &Key,
        change: impl FnOnce(&mut SdpApi<'_>),
    ) -> Result<String, String> {
        let peer = self.peer(key, Instant::now())?;
        if peer.pending.is_some() {
            return Err("the SFU's offer waits for its answer".into());
        }
        let mut changes = peer.rtc.sdp_api();
        change(&mut changes);
        let (offer, pending) = changes
            .apply()
            .ok_or_else(|| "nothing to offer".to_string())?;
        peer.pending = Some(pending);
        Ok(offer.to_sdp_string())
    }

    /// The peer of `key`, if it has one.
    pub(super) fn rtc(&mut self, key: &Key) -> Option<&mut Rtc> {
        self.peers.get_mut(key).map(|peer| &mut peer.rtc)
    }

    /// `f` on `to`'s peer, if it has one and `bytes` more fit in what it may be given this
    /// second; a panic in str0m marks it broken.
    pub(super) fn give(&mut self, to: &Key, bytes: usize, now: Instant, f: impl FnOnce(&mut Rtc)) {
        let given = self.limits.forwarded_bytes_per_second;
        let Some(peer) = self.peers.get_mut(to) else {
            return;
        };
        if within(&mut peer.given, bytes, given, now) && panicked(|| f(&mut peer.rtc)) {
            self.broken.push(to.clone());
        }
    }

    /// The peer of `key`, made if it has none (within the limits).
    fn peer(&mut self, key: &Key, now: Instant) -> Result<&mut Peer, String> {
        if !self.peers.contains_key(key) {
            if self.peers.len() >= self.limits.peers {
                return Err(format!(
                    "the fake carries media for at most {} sessions at once",
                    self.limits.peers
                ));
            }
            let mut rtc = Rtc::builder().set_ice_lite(true).build(now);
            let candidate =
                Candidate::host(self.address, "udp").map_err(|e| format!("no candidate: {e}"))?;
            let _ = rtc.add_local_candidate(candidate);
            self.peers.insert(
                key.clone(),
                Peer {
                    rtc,
                    connected: false,
                    pending: None,
                    flowing: HashMap::new(),
                    last_input: now,
                    taken: (0, now),
                    given: (0, now),
                    last_pli: HashMap::new(),
                    sections: 0,
                },
            );
        }
        self.peers.get_mut(key).ok_or_else(|| "no peer".to_string())
    }

    /// Answers the endpoint's offer of `key`, its tracks published as `publish` says (mid,
    /// track name).
    pub(crate) fn answer_offer(
        &mut self,
        key: &Key,
        offer: &str,
        publish: &[(String, String)],
    ) -> Result<String, String> {
        // Counted before str0m takes it: what it takes, it keeps.
        let sections = offer.matches("\nm=").count();
        if sections > self.limits.sections {
            return Err(format!(
                "at most {} media sections per session",
                self.limits.sections
            ));
        }
        let offer =
            SdpOffer::from_sdp_string(&without_candidates(offer)).map_err(|e| format!("{e}"))?;
        let peer = self.peer(key, Instant::now())?;
        if peer.pending.is_some() {
            return Err("the SFU's offer waits for its answer".into());
        }
        // Counted before: str0m may keep the sections of an offer it then refuses.
        peer.sections = peer.sections.max(sections);
        let answer = peer
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| format!("{e}"))?;
        let answer = answer.to_sdp_string();
        for (mid, name) in publish {
            self.published
                .insert((key.clone(), name.clone()), Mid::from(mid.as_str()));
        }
        Ok(answer)
    }

    /// Offers `key` the tracks it pulls (publisher, track name), each on a new mid: the offer,
    /// and the mids in order (`None` for a track nobody publishes).
    pub(crate) fn offer_pull(
        &mut self,
        key: &Key,
        pull: &[(Key, String)],
    ) -> Result<(String, Vec<Option<String>>), String> {
        let now = Instant::now();
        let sources: Vec<Option<(Key, Mid, MediaKind)>> = pull
            .iter()
            .map(|(from, name)| {
                let mid = *self.published.get(&(from.clone(), name.clone()))?;
                let kind = self.peers.get(from)?.rtc.media(mid)?.kind();
                Some((from.clone(), mid, kind))
            })
            .collect();
        let sections = self.limits.sections;
        let peer = self.peer(key, now)?;
        if peer.pending.is_some() {
            return Err("the SFU's offer waits for its answer".into());
        }
        let adding = sources.iter().flatten().count();
        if peer.sections + adding > sections {
            return Err(format!("at most {sections} media sections per session"));
        }
        let mut changes = peer.rtc.sdp_api();
        let mids: Vec<Option<Mid>> = sources
            .iter()
            .map(|source| {
                source.as_ref().map(|(_, _, kind)| {
                    changes.add_media(*kind, Direction::SendOnly, None, None, None)
                })
            })
            .collect();
        let Some((offer, pending)) = changes.apply() else {
            return Err("nothing to offer".into());
        };
        peer.pending = Some(pending);
        peer.sections += adding;
        for (source, mid) in sources.iter().zip(&mids) {
            if let (Some((from, from_mid, _)), Some(mid)) = (source, mid) {
                self.routes
                    .entry((from.clone(), *from_mid))
                    .or_default()
                    .push((key.clone(), *mid));
                self.keyframe(from, *from_mid, now);
            }
        }
        let mids = mids.into_iter().map(|m| m.map(|m| m.to_string())).collect();
        Ok((offer.to_sdp_string(), mids))
    }

    /// The endpoint's answer to the SFU's offer of `key`.
    pub(crate) fn accept_answer(&mut self, key: &Key, answer: &str) -> Result<(), String> {
        let answer =
            SdpAnswer::from_sdp_string(&without_candidates(answer)).map_err(|e| format!("{e}"))?;
        let peer = self
            .peers
            .get_mut(key)
            .ok_or_else(|| "this session carries no media".to_string())?;
        let pending = peer
            .pending
            .take()
            .ok_or_else(|| "no offer of the SFU waits for an answer".to_string())?;
        peer.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| format!("{e}"))
    }

    /// Stops what `key`'s tracks `mids` carry: what they publish goes nowhere, what they pull
    /// stops coming.
    pub(crate) fn close(&mut self, key: &Key, mids: &[String]) {
        let mids: HashSet<Mid> = mids.iter().map(|m| Mid::from(m.as_str())).collect();
        self.published
            .retain(|(from, _), mid| !(from == key && mids.contains(mid)));
        self.routes
            .retain(|(from, mid), _| !(from == key && mids.contains(mid)));
        for targets in self.routes.values_mut() {
            targets.retain(|(to, mid)| !(to == key && mids.contains(mid)));
        }
        self.routes.retain(|_, targets| !targets.is_empty());
    }

    /// Points `key`'s transceiver `mid` at another published track.
    pub(crate) fn retarget(&mut self, key: &Key, mid: &str, from: &Key, name: &str) {
        if !self.peers.contains_key(key) {
            return;
        }
        let mid = Mid::from(mid);
        for targets in self.routes.values_mut() {
            targets.retain(|(to, m)| !(to == key && *m == mid));
        }
        if let Some(from_mid) = self
            .published
            .get(&(from.clone(), name.to_string()))
            .copied()
        {
            self.routes
                .entry((from.clone(), from_mid))
                .or_default()
                .push((key.clone(), mid));
            self.keyframe(from, from_mid, Instant::now());
        }
    }

    /// The mids of `key` that carry media now.
    pub(crate) fn flowing(&self, key: &Key) -> HashSet<String> {
        let now = Instant::now();
        self.peers
            .get(key)
            .map(|peer| {
                peer.flowing
                    .iter()
                    .filter(|(_, at)| now.saturating_duration_since(**at) < FLOWING)
                    .map(|(mid, _)| mid.to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the SFU's offer to `key` waits for its answer.
    pub(crate) fn offer_waits(&self, key: &Key) -> bool {
        self.peers
            .get(key)
            .is_some_and(|peer| peer.pending.is_some())
    }

    /// Each peer, and whether it took a datagram `within` before `now`.
    pub(crate) fn in_use(&self, now: Instant, within: Duration) -> Vec<(Key, bool)> {
        let peers = self.peers.iter();
        let recent = |p: &Peer| now.saturating_duration_since(p.last_input) < within;
        peers.map(|(key, p)| (key.clone(), recent(p))).collect()
    }

    /// What it keeps: peers, published tracks, and routes to subscribers.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        let routes = self.routes.values().map(Vec::len).sum();
        (self.peers.len(), self.published.len(), routes)
    }

    /// Forgets `key`'s peer and everything it published or pulled.
    pub(crate) fn drop_peer(&mut self, key: &Key) {
        if let Some(mut peer) = self.peers.remove(key) {
            peer.rtc.disconnect();
        }
        self.published.retain(|(from, _), _| from != key);
        self.routes.retain(|(from, _), _| from != key);
        for targets in self.routes.values_mut() {
            targets.retain(|(to, _)| to != key);
        }
        self.routes.retain(|_, targets| !targets.is_empty());
        self.channels.forget(key);
    }

    /// Asks `from` for a keyframe of `mid`, at most every [`PLI_EVERY`].
    fn keyframe(&mut self, from: &Key, mid: Mid, now: Instant) {
        let Some(peer) = self.peers.get_mut(from) else {
            return;
        };
        let due = peer
            .last_pli
            .get(&mid)
            .is_none_or(|at| now.saturating_duration_since(*at) >= PLI_EVERY);
        if !due || !peer.connected {
            return;
        }
        let asked = panicked(|| {
            if let Some(mut writer) = peer.rtc.writer(mid) {
                if writer
                    .request_keyframe(None, KeyframeRequestKind::Pli)
                    .is_ok()
                {
                    peer.last_pli.insert(mid, now);
                }
            }
        });
        if asked {
            self.broken.push(from.clone());
        }
    }

    /// A datagram from `source`: to the peer that accepts it (then `true`), or dropped.
    pub(crate) fn receive(&mut self, source: SocketAddr, datagram: &[u8], now: Instant) -> bool {
        let Ok(contents) = Receive::new(Protocol::Udp, source, self.address, datagram) else {
            return false;
        };
        let input = Input::Receive(now, contents);
        let Some((key, peer)) = self.peers.iter_mut().find(|(_, p)| p.rtc.accepts(&input)) else {
            return false;
        };
        peer.last_input = now;
        // A datagram that makes str0m panic ends its peer, not the server.
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = peer.rtc.handle_input(input);
        }));
        if handled.is_err() {
            let key = key.clone();
            self.drop_peer(&key);
        }
        true
    }

    /// The loop's work at `now`: timers, everything each peer has to send (into `out`, sent
    /// once the engine is free again), media forwarded, keyframes asked for, idle peers
    /// dropped. Returns when it next has work.
    pub(crate) fn drive(&mut self, now: Instant, out: &mut Vec<Transmit>) -> Instant {
        let idle = self.limits.idle;
        let gone: Vec<Key> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                !p.rtc.is_alive() || now.saturating_duration_since(p.last_input) > idle
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in gone {
            self.drop_peer(&key);
        }
        for (key, peer) in &mut self.peers {
            if panicked(|| drop(peer.rtc.handle_input(Input::Timeout(now)))) {
                self.broken.push(key.clone());
            }
        }
        let mut next = now + Duration::from_secs(1);
        // Forwarding makes more to send: poll again until a pass forwards nothing.
        for _ in 0..8 {
            if !self.pass(now, &mut next, out) {
                break;
            }
        }
        for key in std::mem::take(&mut self.broken) {
            self.drop_peer(&key);
        }
        next
    }

    /// One pass over every peer: what it sends goes out, what it received is handled. Returns
    /// whether media was forwarded (so peers have more to send).
    fn pass(&mut self, now: Instant, next: &mut Instant, out: &mut Vec<Transmit>) -> bool {
        let mut media: Vec<(Key, MediaData)> = Vec::new();
        let mut keyframes: Vec<(Key, Mid)> = Vec::new();
        let mut messages: Vec<(Key, str0m::channel::ChannelData)> = Vec::new();
        let mut broken: Vec<Key> = Vec::new();
        let bytes_per_second = self.limits.bytes_per_second;
        for (key, peer) in &mut self.peers {
            // A peer that makes str0m panic is dropped; the others go on.
            let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loop {
                let output = match peer.rtc.poll_output() {
                    Ok(output) => output,
                    Err(_) => break,
                };
                match output {
                    Output::Transmit(transmit) => out.push(transmit),
                    Output::Timeout(at) => {
                        *next = (*next).min(at);
                        break;
                    }
                    Output::Event(event) => match event {
                        Event::Connected => peer.connected = true,
                        Event::MediaData(data) => {
                            if !within(&mut peer.taken, data.data.len(), bytes_per_second, now) {
                                continue;
                            }
                            peer.flowing.insert(data.mid, now);
                            if !data.contiguous {
                                keyframes.push((key.clone(), data.mid));
                            }
                            media.push((key.clone(), data));
                        }
                        Event::KeyframeRequest(request) => {
                            keyframes.push((key.clone(), request.mid));
                        }
                        Event::ChannelData(data) => {
                            let fits =
                                within(&mut peer.taken, data.data.len(), bytes_per_second, now);
                            messages.extend(fits.then(|| (key.clone(), data)));
                        }
                        _ => {}
                    },
                }
            }));
            if polled.is_err() {
                broken.push(key.clone());
            }
        }
        for key in &broken {
            self.drop_peer(key);
        }
        let forwarded = !media.is_empty() || !messages.is_empty();
        for (from, data) in media {
            self.forward(&from, &data, now);
        }
        for (from, data) in messages {
            self.relay_message(&from, data.id, data.binary, &data.data);
        }
        for (key, mid) in keyframes {
            // A subscriber's request goes to the publisher of what it receives.
            let source = self.routes.iter().find_map(|(source, targets)| {
                targets
                    .iter()
                    .any(|(to, m)| *to == key && *m == mid)
                    .then(|| source.clone())
            });
            let (from, from_mid) = source.unwrap_or((key, mid));
            self.keyframe(&from, from_mid, now);
        }
        forwarded
    }

    /// `data` from `from` to every subscriber of its track that is connected.
    fn forward(&mut self, from: &Key, data: &MediaData, now: Instant) {
        let Some(targets) = self.routes.get(&(from.clone(), data.mid)) else {
            return;
        };
        let given = self.limits.forwarded_bytes_per_second;
        for (to, mid) in targets {
            let Some(peer) = self.peers.get_mut(to) else {
                continue;
            };
            if !peer.connected {
                continue;
            }
            let wrote = panicked(|| {
                let Some(writer) = peer.rtc.writer(*mid) else {
                    return;
                };
                let Some(pt) = writer.match_params(data.params) else {
                    return;
                };
                if !within(&mut peer.given, data.data.len(), given, now) {
                    return;
                }
                if writer
                    .write(pt, data.network_time, data.time, data.data.clone())
                    .is_ok()
                {
                    peer.flowing.insert(*mid, now);
                }
            });
            if wrote {
                self.broken.push(to.clone());
            }
        }
    }
}
