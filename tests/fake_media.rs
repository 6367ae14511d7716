//! Real media through the fake's SFU (feature `fake-media`): two WebRTC peers of str0m
//! ([`WebRtcPeer`]), one publishing synthetic audio and video and a data channel through the
//! fake, the other pulling all three, with the signalling through the crate's own SFU client.
//! Frames and a message must arrive, and the sessions' states show the tracks carrying media.
#![cfg(feature = "fake-media")]

use std::net::SocketAddr;
use std::time::Duration;

use apps_api::cloudflare::sfu::{
    CloseTracks, DataChannelRequest, NewTracks, RealtimeClient, SdpType, Session,
    SessionDescription, Status, TrackRequest,
};
use apps_api::fake::{FakeConfig, FakeServer, WebRtcPeer};

/// The fake with media, a Calls app on it, and its SFU client.
async fn on_the_fake() -> (FakeServer, RealtimeClient) {
    on_the_fake_with(FakeConfig::new()).await
}

async fn on_the_fake_with(config: FakeConfig) -> (FakeServer, RealtimeClient) {
    let media: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let fake = FakeServer::start_with(config.media(media)).await.unwrap();
    let created = fake
        .cloudflare_client()
        .unwrap()
        .calls(fake.account_id())
        .create(Some("media"))
        .await
        .unwrap();
    let client = fake
        .realtime_client(created.app.id.clone().unwrap(), created.secret.clone())
        .unwrap();
    (fake, client)
}

async fn statuses(session: &Session) -> Vec<(String, Option<Status>)> {
    let state = session.state().await.unwrap();
    state
        .tracks
        .into_iter()
        .map(|t| (t.track_name.unwrap_or_default(), t.status))
        .collect()
}

/// A peer's data channel transport, established through the SFU's offer.
async fn establish(session: &Session, peer: &WebRtcPeer) {
    let established = session
        .establish_data_channels(DataChannelRequest::local("server-events"), None)
        .await
        .unwrap();
    assert!(established.requires_immediate_renegotiation);
    let offer = established.session_description.unwrap();
    let answer = peer.answer(&offer).unwrap();
    session.renegotiate(&answer).await.unwrap();
}

/// Alice publishes a microphone, a camera and a data channel; Bob pulls all three, answering
/// the SFU's offers; frames and a message arrive at Bob within seconds, and both sessions show
/// their tracks active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_and_messages_published_through_the_fake_reach_the_puller() {
    let (fake, sfu) = on_the_fake().await;
    assert!(fake.media_address().unwrap().ip().is_loopback());

    let alice = WebRtcPeer::new().unwrap();
    let (offer, mids) = alice.offer_to_publish().unwrap();
    let alice_session = sfu.session(sfu.create_session().await.unwrap().session_id);
    let published = alice_session
        .add_tracks(
            &NewTracks::new([
                TrackRequest::local(mids[0].clone(), "mic"),
                TrackRequest::local(mids[1].clone(), "cam"),
            ])
            .offer(offer),
        )
        .await
        .unwrap();
    assert!(published.tracks.is_complete(), "{:?}", published.tracks);
    let answer = published.session_description.unwrap();
    assert_eq!(answer.kind, SdpType::Answer);
    alice.accept_answer(&answer).unwrap();
    assert!(
        alice
            .wait_for(Duration::from_secs(10), |s| s.connected)
            .await
    );

    let bob = WebRtcPeer::new().unwrap();
    let bob_session = sfu.session(sfu.create_session().await.unwrap().session_id);
    let alice_id = alice_session.id().clone();
    let pulled = bob_session
        .add_tracks(&NewTracks::new([
            TrackRequest::remote(alice_id.clone(), "mic"),
            TrackRequest::remote(alice_id.clone(), "cam"),
        ]))
        .await
        .unwrap();
    assert!(pulled.requires_immediate_renegotiation);
    assert!(pulled.tracks.is_complete(), "{:?}", pulled.tracks);
    let answer = bob.answer(&pulled.session_description.unwrap()).unwrap();
    bob_session.renegotiate(&answer).await.unwrap();
    let arrived = bob
        .wait_for(Duration::from_secs(10), |s| {
            s.audio_bytes > 1000 && s.video_bytes > 10_000 && s.video_frames > 10
        })
        .await;
    assert!(arrived, "alice {:?}, bob {:?}", alice.stats(), bob.stats());
    for (name, status) in statuses(&alice_session)
        .await
        .into_iter()
        .chain(statuses(&bob_session).await)
    {
        assert_eq!(status, Some(Status::Active), "{name}");
    }

    // A data channel: Alice publishes "chat", Bob subscribes; a message crosses.
    establish(&alice_session, &alice).await;
    establish(&bob_session, &bob).await;
    let published = alice_session
        .add_data_channels(vec![DataChannelRequest::local("chat")])
        .await
        .unwrap()
        .into_result()
        .unwrap();
    alice.open_channel("chat", published[0].1.id);
    let subscribed = bob_session
        .add_data_channels(vec![DataChannelRequest::remote(alice_id, "chat")])
        .await
        .unwrap()
        .into_result()
        .unwrap();
    bob.open_channel("chat", subscribed[0].1.id);
    let mut crossed = false;
    for _ in 0..100 {
        alice.send("chat", "hello from alice");
        if bob
            .wait_for(Duration::from_millis(100), |s| !s.messages.is_empty())
            .await
        {
            crossed = true;
            break;
        }
    }
    assert!(crossed, "bob {:?}", bob.stats());
    assert_eq!(
        bob.stats().messages[0],
        ("chat".to_string(), "hello from alice".to_string())
    );
}

/// With media, an SDP no WebRTC peer made is refused as Cloudflare refuses it (400
/// `invalid_session_description`), and nothing is published.
#[tokio::test]
async fn an_opaque_sdp_is_refused_when_the_fake_carries_media() {
    let (_fake, sfu) = on_the_fake().await;
    let id = sfu.create_session().await.unwrap().session_id;
    let opaque = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n";
    let refused = sfu
        .session(&id)
        .add_tracks(
            &NewTracks::new([TrackRequest::local("0", "mic")])
                .offer(SessionDescription::offer(opaque)),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(400), "{refused}");
    assert!(sfu.session(&id).state().await.unwrap().tracks.is_empty());
}

/// Alice publishes, Bob pulls, media flows.
async fn a_call(sfu: &RealtimeClient) -> (WebRtcPeer, Session, WebRtcPeer, Session) {
    let alice = WebRtcPeer::new().unwrap();
    let (offer, mids) = alice.offer_to_publish().unwrap();
    let alice_session = sfu.session(sfu.create_session().await.unwrap().session_id);
    let tracks = [
        TrackRequest::local(mids[0].clone(), "mic"),
        TrackRequest::local(mids[1].clone(), "cam"),
    ];
    let published = alice_session
        .add_tracks(&NewTracks::new(tracks).offer(offer))
        .await
        .unwrap();
    alice
        .accept_answer(&published.session_description.unwrap())
        .unwrap();
    let bob = WebRtcPeer::new().unwrap();
    let bob_session = sfu.session(sfu.create_session().await.unwrap().session_id);
    let from = alice_session.id().clone();
    let pulled = bob_session
        .add_tracks(&NewTracks::new([
            TrackRequest::remote(from.clone(), "mic"),
            TrackRequest::remote(from, "cam"),
        ]))
        .await
        .unwrap();
    let answer = bob.answer(&pulled.session_description.unwrap()).unwrap();
    bob_session.renegotiate(&answer).await.unwrap();
    let flowing = bob
        .wait_for(Duration::from_secs(10), |s| s.video_frames > 10)
        .await;
    assert!(flowing, "{:?}", bob.stats());
    (alice, alice_session, bob, bob_session)
}

/// A connected session lives while it is connected, with no API calls for longer than the
/// sessions' idle time (Cloudflare's media timeout does not end a connected session); a
/// session the API ends takes its media with it, within a second or two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_keeps_a_session_and_the_session_keeps_the_media() {
    let idle = Duration::from_secs(2);
    let (fake, sfu) = on_the_fake_with(FakeConfig::new().sfu_session_idle(idle)).await;
    let (_alice, alice_session, bob, bob_session) = a_call(&sfu).await;
    tokio::time::sleep(idle * 2).await;
    for session in [&alice_session, &bob_session] {
        let state = session.state().await.unwrap();
        assert!(
            state
                .tracks
                .iter()
                .all(|t| t.status == Some(Status::Active)),
            "{state:?}"
        );
    }
    fake.expire_sfu_sessions();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let stopped = bob.stats().video_frames;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        bob.stats().video_frames,
        stopped,
        "media after the sessions ended"
    );
    let gone = alice_session.state().await.unwrap_err();
    assert_eq!(gone.status(), Some(410), "{gone}");
}

/// An answer the SFU reads but refuses (its mids are not the offer's) voids the SFU's offer:
/// the session can pull again, and is not left waiting for an answer it will never take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_answer_leaves_the_session_able_to_negotiate() {
    let (_fake, sfu) = on_the_fake().await;
    let alice = WebRtcPeer::new().unwrap();
    let (offer, mids) = alice.offer_to_publish().unwrap();
    let alice_session = sfu.session(sfu.create_session().await.unwrap().session_id);
    let tracks = [TrackRequest::local(mids[0].clone(), "mic")];
    let published = alice_session
        .add_tracks(&NewTracks::new(tracks).offer(offer))
        .await
        .unwrap();
    alice
        .accept_answer(&published.session_description.unwrap())
        .unwrap();
    let bob = WebRtcPeer::new().unwrap();
    let bob_session = sfu.session(sfu.create_session().await.unwrap().session_id);
    let pull = || NewTracks::new([TrackRequest::remote(alice_session.id().clone(), "mic")]);
    let pulled = bob_session.add_tracks(&pull()).await.unwrap();
    let answer = bob.answer(&pulled.session_description.unwrap()).unwrap();
    let wrong: String = answer
        .sdp
        .lines()
        .map(|l| match l.strip_prefix("a=mid:") {
            Some(_) => "a=mid:not-offered\r\n".to_string(),
            None => format!("{l}\r\n"),
        })
        .collect();
    let refused = bob_session
        .renegotiate(&SessionDescription::answer(wrong))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(400), "{refused}");
    let again = bob_session.add_tracks(&pull()).await.unwrap();
    assert!(again.requires_immediate_renegotiation);
}

/// A close the SFU refuses (its offer is no WebRTC peer's) closes nothing: the media keeps
/// flowing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_close_closes_nothing() {
    let (_fake, sfu) = on_the_fake().await;
    let (_alice, alice_session, bob, _bob_session) = a_call(&sfu).await;
    let mids: Vec<String> = alice_session
        .state()
        .await
        .unwrap()
        .tracks
        .into_iter()
        .filter_map(|t| t.mid)
        .collect();
    let mids: Vec<&str> = mids.iter().map(String::as_str).collect();
    let opaque = SessionDescription::offer("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
    let refused = alice_session
        .close_tracks(&mids, &CloseTracks::Negotiated(opaque))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(400), "{refused}");
    let before = bob.stats().video_frames;
    let flowing = bob
        .wait_for(Duration::from_secs(5), |s| s.video_frames > before + 10)
        .await;
    assert!(flowing, "the media stopped: {:?}", bob.stats());
}
