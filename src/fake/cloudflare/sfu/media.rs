//! The SFU's handlers when the fake carries real media (feature `fake-media`): the SDP is the
//! media server's own (a real answer, a real offer), pulled tracks take its mids, and tracks
//! closed, pointed elsewhere or expired stop carrying media. Without media (the default) none
//! of this runs, and any SDP is answered in kind.
//!
//! With media, an SDP must be one a WebRTC peer can use: anything else is a 400
//! `invalid_session_description`, as Cloudflare's SFU refuses it. ASSUMPTION: a request that
//! both publishes with an offer and pulls is refused too (the browser client sends them apart).

use std::collections::HashSet;

use axum::response::Response;

use super::{invalid_sdp, Key, Sdp, TrackItem};
use crate::fake::media::{is_real, Allocated, Engine};
use crate::fake::store::sfu::{Channel, Location, Session};
use crate::fake::State;

/// The media server's engine, if the fake carries media.
fn engine(state: &State) -> Option<std::sync::MutexGuard<'_, Engine>> {
    state.media.as_ref().map(|media| media.engine())
}

/// `f` on the engine, for `key`: a panic in str0m (on an SDP it could not take) drops the
/// session's peer and is a refusal, and the engine stays whole.
fn guarded<R>(
    engine: &mut Engine,
    key: &Key,
    f: impl FnOnce(&mut Engine) -> Result<R, String>,
) -> Result<R, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(engine))) {
        Ok(done) => done,
        Err(_) => {
            engine.drop_peer(key);
            Err("the SFU could not take this session description".into())
        }
    }
}

/// A refusal of the SFU's media for `why`.
fn refused(why: &str) -> Response {
    invalid_sdp(&crate::core::scrub::short(why))
}

/// Refuses, with media, an offer no WebRTC peer could make, or one that comes with pulls.
pub(super) fn check_offer(state: &State, offer: Option<&str>, pulls: bool) -> Option<Response> {
    state.media.as_ref()?;
    match offer {
        Some(_) if pulls => Some(refused(
            "publish with an offer and pull without one, in separate requests",
        )),
        Some(sdp) if !is_real(sdp) => Some(refused(
            "the session description is not one a WebRTC peer made",
        )),
        _ => None,
    }
}

/// With media: the SFU's answer to `offer` (its tracks published by name), or its offer of the
/// tracks pulled (their items and the session's tracks given its mids); `None` without media.
pub(super) fn negotiate(
    state: &State,
    key: &Key,
    offer: Option<&str>,
    session: &mut Session,
    items: &mut [TrackItem],
) -> Result<Option<Sdp>, Response> {
    let Some(mut engine) = engine(state) else {
        return Ok(None);
    };
    if let Some(offer) = offer {
        let published: Vec<(String, String)> = items
            .iter()
            .filter(|i| i.error_code.is_none() && i.location == Some(Location::Local))
            .map(|i| (i.mid.clone(), i.track_name.clone().unwrap_or_default()))
            .collect();
        let answer = guarded(&mut engine, key, |e| e.answer_offer(key, offer, &published))
            .map_err(|why| refused(&why))?;
        return Ok(Some(Sdp {
            kind: "answer",
            sdp: answer,
        }));
    }
    let pulled: Vec<usize> = (0..items.len())
        .filter(|&i| items[i].error_code.is_none() && items[i].location == Some(Location::Remote))
        .collect();
    if pulled.is_empty() {
        return Ok(None);
    }
    let wanted: Vec<(crate::fake::media::Key, String)> = pulled
        .iter()
        .map(|&i| {
            let from = items[i].session_id.clone().unwrap_or_default();
            (
                (key.0.clone(), from),
                items[i].track_name.clone().unwrap_or_default(),
            )
        })
        .collect();
    let (offer, mids) =
        guarded(&mut engine, key, |e| e.offer_pull(key, &wanted)).map_err(|why| refused(&why))?;
    for (&i, mid) in pulled.iter().zip(mids) {
        let old = std::mem::take(&mut items[i].mid);
        let track = session
            .tracks
            .iter_mut()
            .find(|t| t.location == Location::Remote && t.mid == old);
        match (mid, track) {
            (Some(mid), Some(track)) => {
                track.mid = mid.clone();
                items[i].mid = mid;
            }
            // Published with no media to forward (the publisher's SDP was not real).
            (_, track) => {
                if let Some(track) = track {
                    track.active = false;
                }
                items[i].error_code = Some("not_found_track_error".into());
                items[i].error_description = Some("Track not found".into());
            }
        }
    }
    for i in pulled {
        let mid = items[i].mid.clone();
        session.saw_mid(&mid);
    }
    Ok(Some(Sdp {
        kind: "offer",
        sdp: offer,
    }))
}

/// With media: the endpoint's answer to the SFU's offer, taken, or the refusal.
pub(super) fn accept_answer(state: &State, key: &Key, answer: &str) -> Option<Response> {
    let mut engine = engine(state)?;
    guarded(&mut engine, key, |e| e.accept_answer(key, answer))
        .err()
        .map(|why| refused(&why))
}

/// With media: whether the SFU's offer to `key` waits for its answer.
pub(super) fn offer_waits(state: &State, key: &Key) -> bool {
    engine(state).is_some_and(|engine| engine.offer_waits(key))
}

/// With media: `mids` of `key` stop carrying media; with the endpoint's `offer`, the SFU's
/// answer to it.
pub(super) fn close(
    state: &State,
    key: &Key,
    mids: &[String],
    offer: Option<&str>,
) -> Result<Option<Sdp>, Response> {
    let Some(mut engine) = engine(state) else {
        return Ok(None);
    };
    // The offer taken first: a refused request closes nothing.
    let answer = match offer {
        Some(offer) if !is_real(offer) => {
            return Err(refused(
                "the session description is not one a WebRTC peer made",
            ))
        }
        Some(offer) => Some(
            guarded(&mut engine, key, |e| e.answer_offer(key, offer, &[]))
                .map_err(|why| refused(&why))?,
        ),
        None => None,
    };
    engine.close(key, mids);
    Ok(answer.map(|sdp| Sdp {
        kind: "answer",
        sdp,
    }))
}

/// With media: `key`'s transceiver `mid` now carries `from`'s track `name`.
pub(super) fn retarget(state: &State, key: &Key, mid: &str, from: &str, name: &str) {
    if let Some(mut engine) = engine(state) {
        let from = (key.0.clone(), from.to_string());
        let _ = guarded(&mut engine, key, |e| {
            e.retarget(key, mid, &from, name);
            Ok(())
        });
    }
}

/// With media: the session's mids that carry media now (none once its peer is gone).
pub(super) fn flowing(state: &State, key: &Key) -> Option<HashSet<String>> {
    Some(engine(state)?.flowing(key))
}

/// The API's side of the media loop's check, every second: sessions whose peer took a datagram
/// lately (`true`) are in use now (a connected session lives while it is connected, API calls
/// or not); returns the peers whose sessions are no more (expired, ended, or the store reset),
/// to be dropped. On the fake's runtime's clock (`clock`), which a test may have paused.
pub(crate) fn sync(
    state: &State,
    clock: Option<&tokio::runtime::Handle>,
    peers: &[(Key, bool)],
) -> Vec<Key> {
    let _clock = clock.map(tokio::runtime::Handle::enter);
    let mut store = state.store();
    let now = tokio::time::Instant::now();
    let idle = state.sfu_session_idle;
    let mut gone = Vec::new();
    for (key, in_use) in peers {
        if store.sfu.live(key, now, idle).is_none() {
            gone.push(key.clone());
        } else if *in_use {
            store.sfu.sessions.update(key, |s| s.last_used = now);
        }
    }
    gone
}

/// Forgets the media of sessions that are no more.
pub(super) fn forget(state: &State, key: &Key) {
    if let Some(mut engine) = engine(state) {
        engine.drop_peer(key);
    }
}

/// A channel of the store as the media server opens it (its ID fits a stream: at most 65534,
/// as Cloudflare's).
fn allocated<'a>(channel: &'a Channel, from: &'a Option<Key>) -> Option<Allocated<'a>> {
    Some(Allocated {
        id: u16::try_from(channel.id).ok().filter(|id| *id < u16::MAX)?,
        name: &channel.name,
        from: from.as_ref(),
        ordered: true,
    })
}

/// With media: `establish`'s SFU offer of its SCTP transport (or its answer to the
/// endpoint's), the channel named opened on it; `None` without media.
pub(super) fn establish(
    state: &State,
    key: &Key,
    channel: &Channel,
    offer: Option<&str>,
) -> Result<Option<(Sdp, bool)>, Response> {
    let Some(mut engine) = engine(state) else {
        return Ok(None);
    };
    if offer.is_some_and(|o| !is_real(o)) {
        return Err(refused(
            "the session description is not one a WebRTC peer made",
        ));
    }
    let from = channel.session.clone().map(|s| (key.0.clone(), s));
    let allocated =
        allocated(channel, &from).ok_or_else(|| refused("no channel ID left on this session"))?;
    let (sdp, renegotiate) = guarded(&mut engine, key, |e| e.establish(key, &allocated, offer))
        .map_err(|why| refused(&why))?;
    let kind = if renegotiate { "offer" } else { "answer" };
    Ok(Some((Sdp { kind, sdp }, renegotiate)))
}

/// With media: opens the channels `datachannels/new` allocated.
pub(super) fn open_channels(state: &State, key: &Key, opened: &[&Channel]) -> Result<(), Response> {
    let Some(mut engine) = engine(state) else {
        return Ok(());
    };
    for channel in opened {
        let from = channel.session.clone().map(|s| (key.0.clone(), s));
        let Some(allocated) = allocated(channel, &from) else {
            continue;
        };
        guarded(&mut engine, key, |e| e.open_channel(key, &allocated))
            .map_err(|why| refused(&why))?;
    }
    Ok(())
}

/// With media: closes `key`'s channel `id`.
pub(super) fn close_channel(state: &State, key: &Key, id: u32) {
    if let (Some(mut engine), Ok(id)) = (engine(state), u16::try_from(id)) {
        let _ = guarded(&mut engine, key, |e| {
            e.close_channel(key, id);
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic in str0m (here: a channel opened twice on one stream, which str0m refuses by
    /// panicking) drops that session's peer and is a refusal; the engine goes on.
    #[test]
    fn a_panic_in_str0m_drops_the_peer_and_refuses() {
        let mut engine = Engine::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], 9)),
            crate::fake::media::MediaLimits::default(),
        );
        let key: Key = ("app".into(), "session".into());
        let channel = Allocated {
            id: 1,
            name: "chat",
            from: None,
            ordered: true,
        };
        guarded(&mut engine, &key, |e| e.establish(&key, &channel, None)).unwrap();
        assert!(engine.offer_waits(&key));
        let refused = guarded(&mut engine, &key, |e| e.open_channel(&key, &channel));
        assert_eq!(
            refused,
            Err("the SFU could not take this session description".into())
        );
        assert!(!engine.offer_waits(&key), "the peer is gone");
        guarded(&mut engine, &key, |e| e.establish(&key, &channel, None)).unwrap();
    }
}
