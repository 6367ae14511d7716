//! The API and the media server agree: what the API refuses changes nothing in the media
//! server, and sessions with media are judged on the fake's own clock.

use std::time::Duration;

use super::{loopback, on_the_fake};
use crate::fake::media::WebRtcPeer;
use crate::fake::FakeConfig;

/// A request the API refuses (the session is full) changes nothing in the media server: no
/// subscription is kept of it. (Subscriptions the API took are each kept once.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_keeps_no_media_state() {
    use crate::cloudflare::sfu::{DataChannelRequest, Session};
    let (fake, sfu) = on_the_fake(FakeConfig::new().media(loopback())).await;
    let establish = |session: Session, peer: WebRtcPeer| async move {
        let established = session
            .establish_data_channels(DataChannelRequest::local("server-events"), None)
            .await
            .unwrap();
        let answer = peer
            .answer(&established.session_description.unwrap())
            .unwrap();
        session.renegotiate(&answer).await.unwrap();
        (session, peer)
    };
    let new_session = || async { sfu.session(sfu.create_session().await.unwrap().session_id) };
    let (alice, _a) = establish(new_session().await, WebRtcPeer::new().unwrap()).await;
    alice
        .add_data_channels(vec![DataChannelRequest::local("chat")])
        .await
        .unwrap()
        .into_result()
        .unwrap();
    let (bob, _b) = establish(new_session().await, WebRtcPeer::new().unwrap()).await;
    let subscriptions = || {
        fake.state
            .media
            .as_ref()
            .unwrap()
            .engine()
            .channels
            .subscriptions()
    };
    let many = || vec![DataChannelRequest::remote(alice.id().clone(), "chat"); 50];
    let mut taken = 0;
    let refused = loop {
        match bob.add_data_channels(many()).await {
            Ok(batch) => taken += batch.succeeded().len(),
            Err(refused) => break refused,
        }
        assert!(taken <= 300, "never refused");
    };
    assert!(refused.status().is_some_and(|s| s >= 400), "{refused}");
    let kept = subscriptions();
    assert_eq!(kept, taken);
    assert!(bob.add_data_channels(many()).await.is_err());
    assert_eq!(subscriptions(), kept);
}

/// On a paused clock (a test's), a session with media is judged on the fake's clock, not the
/// media thread's: real time passing past the idle time expires nothing.
#[tokio::test(start_paused = true)]
async fn a_paused_clock_expires_no_session_with_media() {
    use crate::cloudflare::sfu::{NewTracks, TrackRequest};
    let config = FakeConfig::new()
        .media(loopback())
        .sfu_session_idle(Duration::from_secs(1));
    let (fake, sfu) = on_the_fake(config).await;
    let session = sfu.session(sfu.create_session().await.unwrap().session_id);
    let alice = WebRtcPeer::new().unwrap();
    let (offer, mids) = alice.offer_to_publish().unwrap();
    let tracks = [TrackRequest::local(mids[0].clone(), "mic")];
    let _ = session
        .add_tracks(&NewTracks::new(tracks).offer(offer))
        .await
        .unwrap();
    let peers = || fake.state.media.as_ref().unwrap().engine().counts().0;
    assert_eq!(peers(), 1);
    // A new peer counts as in use for two syncs; on the wrong clock the session would end a
    // second after the last of them, and its peer be dropped at the sync after that.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(peers(), 1, "kept: no time passed on the fake's clock");
    session.state().await.unwrap();
}
