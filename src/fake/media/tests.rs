//! The media server's limits and its behaviour under junk, with real WebRTC peers
//! ([`WebRtcPeer`]) and the engine's own signalling (the API's handlers are tested through
//! the API in `tests/fake_media.rs`).

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use proptest::prelude::*;

use super::{Engine, Key, MediaLimits, MediaServer, WebRtcPeer};
use crate::cloudflare::sfu::SessionDescription;

mod api;
mod channels;

fn key(session: &str) -> Key {
    ("app".to_string(), session.to_string())
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// `alice` publishes her microphone and camera as `session`.
fn publish(server: &MediaServer, session: &str, alice: &WebRtcPeer) -> Result<(), String> {
    let (offer, mids) = alice.offer_to_publish().map_err(|e| e.to_string())?;
    let names = [
        (mids[0].clone(), "mic".to_string()),
        (mids[1].clone(), "cam".to_string()),
    ];
    let answer = server
        .engine()
        .answer_offer(&key(session), &offer.sdp, &names)?;
    alice
        .accept_answer(&SessionDescription::answer(answer))
        .map_err(|e| e.to_string())
}

/// `bob`, as `session`, pulls `from`'s microphone and camera and answers the SFU's offer.
fn pull(server: &MediaServer, session: &str, from: &str, bob: &WebRtcPeer) {
    let wanted = [
        (key(from), "mic".to_string()),
        (key(from), "cam".to_string()),
    ];
    let (offer, mids) = server.engine().offer_pull(&key(session), &wanted).unwrap();
    assert!(mids.iter().all(Option::is_some), "{mids:?}");
    let answer = bob.answer(&SessionDescription::offer(offer)).unwrap();
    server
        .engine()
        .accept_answer(&key(session), &answer.sdp)
        .unwrap();
}

/// A call of Alice to Bob on a server with `limits`, media flowing.
async fn call(limits: MediaLimits) -> (MediaServer, WebRtcPeer, WebRtcPeer) {
    let server = MediaServer::start(loopback(), limits).unwrap();
    let (alice, bob) = (WebRtcPeer::new().unwrap(), WebRtcPeer::new().unwrap());
    publish(&server, "alice", &alice).unwrap();
    assert!(alice.wait_for(SECONDS_10, |s| s.connected).await);
    pull(&server, "bob", "alice", &bob);
    assert!(
        bob.wait_for(SECONDS_10, |s| s.video_frames > 0).await,
        "{:?}",
        bob.stats()
    );
    (server, alice, bob)
}

const SECONDS_10: Duration = Duration::from_secs(10);

/// The fake with `config`, and a Realtime client of a Calls app made on it.
async fn on_the_fake(
    config: crate::fake::FakeConfig,
) -> (
    crate::fake::FakeServer,
    crate::cloudflare::sfu::RealtimeClient,
) {
    let fake = crate::fake::FakeServer::start_with(config).await.unwrap();
    let created = fake
        .cloudflare_client()
        .unwrap()
        .calls(fake.account_id())
        .create(Some("media-tests"))
        .await
        .unwrap();
    let sfu = fake
        .realtime_client(created.app.id.clone().unwrap(), created.secret)
        .unwrap();
    (fake, sfu)
}

fn received(peer: &WebRtcPeer) -> u64 {
    let stats = peer.stats();
    stats.audio_bytes + stats.video_bytes
}

/// What a publisher sends past its bitrate is dropped, and so is what is forwarded to one
/// peer past its own: with either cap at 5 kB/s, Bob gets about that of Alice's 30 kB/s; with
/// the default caps, all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_past_its_bitrate_is_cut() {
    let cut = 5_000 * 3 + 1_000;
    for (sent, forwarded, least, most) in [
        (5_000, 4_000_000, 1, cut),
        (500_000, 5_000, 1, cut),
        (500_000, 4_000_000, 50_000, u64::MAX),
    ] {
        let limits = MediaLimits {
            bytes_per_second: sent,
            forwarded_bytes_per_second: forwarded,
            ..MediaLimits::default()
        };
        let (_server, _alice, bob) = call(limits).await;
        let before = received(&bob);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let got = received(&bob) - before;
        assert!(
            (least..=most).contains(&got),
            "caps {sent} and {forwarded} B/s: {got} bytes in 2 s"
        );
    }
}

/// A peer that sends nothing for the idle time is dropped with what it published and pulled;
/// one whose media flows stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_peers_are_dropped_with_their_state() {
    let limits = MediaLimits {
        idle: Duration::from_millis(600),
        ..MediaLimits::default()
    };
    let (server, alice, bob) = call(limits).await;
    // Carol is offered Alice's tracks and never answers: she never sends a datagram.
    let wanted = [(key("alice"), "cam".to_string())];
    server.engine().offer_pull(&key("carol"), &wanted).unwrap();
    assert_eq!(server.engine().counts(), (3, 2, 3));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(server.engine().counts(), (2, 2, 2), "carol is gone");
    // Alice stops: both her and the routes of her tracks go; Bob, receiving, still sends
    // (reports, consent checks) for a while, then nothing arrives for him to answer.
    drop(alice);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (peers, published, routes) = server.engine().counts();
    assert_eq!((published, routes), (0, 0), "alice's tracks are gone");
    assert!(peers <= 1, "{peers} peers");
    assert!(server.engine().flowing(&key("alice")).is_empty());
    drop(bob);
}

/// At most `peers` sessions carry media at once; a session gone makes room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peers_limit_holds() {
    let limits = MediaLimits {
        peers: 2,
        ..MediaLimits::default()
    };
    let server = MediaServer::start(loopback(), limits).unwrap();
    let peers: Vec<WebRtcPeer> = (0..3).map(|_| WebRtcPeer::new().unwrap()).collect();
    publish(&server, "a", &peers[0]).unwrap();
    publish(&server, "b", &peers[1]).unwrap();
    let refused = publish(&server, "c", &peers[2]).unwrap_err();
    assert!(refused.contains("at most 2 sessions"), "{refused}");
    server.engine().drop_peer(&key("a"));
    let again = WebRtcPeer::new().unwrap();
    publish(&server, "c", &again).unwrap();
}

/// No more than `sections` media sections per session, published or pulled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sections_limit_holds() {
    let limits = MediaLimits {
        sections: 3,
        ..MediaLimits::default()
    };
    let server = MediaServer::start(loopback(), limits).unwrap();
    let alice = WebRtcPeer::new().unwrap();
    publish(&server, "alice", &alice).unwrap();
    let two = [
        (key("alice"), "mic".to_string()),
        (key("alice"), "cam".to_string()),
    ];
    server.engine().offer_pull(&key("bob"), &two).unwrap();
    server.engine().drop_peer(&key("bob"));
    let four: Vec<(Key, String)> = two.iter().chain(&two).cloned().collect();
    let refused = server.engine().offer_pull(&key("bob"), &four).unwrap_err();
    assert!(refused.contains("at most 3 media sections"), "{refused}");
}

/// A few kinds of junk: random bytes, and bytes that look like STUN, DTLS and RTP (the first
/// byte is what the demultiplexer reads).
fn junk(n: u64) -> Vec<u8> {
    // xorshift: junk that differs every time, with no dependency.
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let length = 1 + (next() % 1_400) as usize;
    let mut bytes: Vec<u8> = (0..length).map(|_| next() as u8).collect();
    match n % 4 {
        // A STUN binding request with its magic cookie and a random username.
        0 if bytes.len() >= 20 => {
            bytes[..2].copy_from_slice(&[0x00, 0x01]);
            let body = u16::try_from(bytes.len() - 20).unwrap_or(0) & !3;
            bytes[2..4].copy_from_slice(&body.to_be_bytes());
            bytes[4..8].copy_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
            bytes.truncate(20 + usize::from(body));
        }
        1 => bytes[0] = 22,
        2 => bytes[0] = 0x80,
        _ => {}
    }
    bytes
}

/// A flood of junk on the media port, from many sources: media keeps flowing to Bob at its
/// rate, and the server keeps nothing of it (no peer, route or publication more).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_junk_neither_grows_nor_stops_the_media() {
    let (server, _alice, bob) = call(MediaLimits::default()).await;
    let counts = server.engine().counts();
    let target = server.address();
    let flood = std::thread::spawn(move || {
        let sockets: Vec<UdpSocket> = (0..32)
            .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let started = std::time::Instant::now();
        let mut sent = 0u64;
        while started.elapsed() < Duration::from_secs(3) {
            let socket = &sockets[(sent % 32) as usize];
            let _ = socket.send_to(&junk(sent), target);
            sent += 1;
        }
        sent
    });
    let frames = bob.stats().video_frames;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = bob.stats().video_frames - frames;
    let sent = flood.join().unwrap();
    // Alice sends 30 frames a second: most of 90 arrive.
    eprintln!("{during} frames in 3 s under {sent} junk datagrams");
    assert!(
        during >= 60,
        "{during} frames in 3 s under {sent} junk datagrams"
    );
    assert!(sent > 10_000, "only {sent} junk datagrams");
    assert_eq!(server.engine().counts(), counts);
}

/// An engine with one peer that has published a microphone, shared by the property's cases.
fn engine_with_a_peer() -> &'static std::sync::Mutex<Engine> {
    static ENGINE: std::sync::OnceLock<std::sync::Mutex<Engine>> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut engine = Engine::new(
            SocketAddr::from(([127, 0, 0, 1], 9)),
            MediaLimits::default(),
        );
        let publisher = WebRtcPeer::new().unwrap();
        let (offer, mids) = publisher.offer_to_publish().unwrap();
        let names = [(mids[0].clone(), "mic".to_string())];
        engine
            .answer_offer(&key("alice"), &offer.sdp, &names)
            .unwrap();
        std::sync::Mutex::new(engine)
    })
}

proptest! {
    #![proptest_config(crate::core::proptest_config())]

    /// Any datagram, from anywhere: taken by no peer (it is no peer's), never a panic, and
    /// nothing is kept of it.
    #[test]
    fn arbitrary_datagrams_are_dropped(
        datagram in prop::collection::vec(any::<u8>(), 0..1500),
        first in prop::sample::select(vec![0u8, 1, 20, 22, 63, 64, 127, 128, 191, 255]),
        port in 1u16..,
    ) {
        let mut engine = engine_with_a_peer().lock().unwrap();
        let mut datagram = datagram;
        if let Some(byte) = datagram.first_mut() {
            *byte = first;
        }
        let source = SocketAddr::from(([127, 0, 0, 1], port));
        let taken = engine.receive(source, &datagram, std::time::Instant::now());
        prop_assert!(!taken);
        prop_assert_eq!(engine.counts(), (1, 1, 0));
    }
}

/// Through the API: a track is active while its media flows, and not once its peer is dropped
/// (as an idle peer is).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_peers_tracks_are_inactive() {
    use crate::cloudflare::sfu::{NewTracks, Status, TrackRequest};
    let (fake, sfu) = on_the_fake(crate::fake::FakeConfig::new().media(loopback())).await;
    let app = sfu.app_id().clone();
    let session = sfu.session(sfu.create_session().await.unwrap().session_id);
    let alice = WebRtcPeer::new().unwrap();
    let (offer, mids) = alice.offer_to_publish().unwrap();
    let tracks = [TrackRequest::local(mids[0].clone(), "mic")];
    let answer = session
        .add_tracks(&NewTracks::new(tracks).offer(offer))
        .await
        .unwrap();
    alice
        .accept_answer(&answer.session_description.unwrap())
        .unwrap();
    let status = || async { session.state().await.unwrap().tracks[0].status.clone() };
    let mut active = false;
    for _ in 0..100 {
        active = status().await == Some(Status::Active);
        if active {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(active, "the microphone's media flows");
    let media = fake.state.media.as_ref().unwrap();
    media
        .engine()
        .drop_peer(&(app.to_string(), session.id().to_string()));
    assert_eq!(status().await, Some(Status::Inactive));
}

/// This machine's address on a network, if it has one (the source of the route out; nothing
/// is sent).
fn network_address() -> Option<std::net::IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    Some(socket.local_addr().ok()?.ip()).filter(|ip| !ip.is_loopback())
}

/// On a loopback address, the server reads nothing from off loopback: a peer on this machine's
/// network address is never connected, while one on loopback is. Not `0.0.0.0`: refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_loopback_only_loopback_is_read() {
    for unspecified in ["0.0.0.0:0", "[::]:0", "[::ffff:0.0.0.0]:0"] {
        let refused = super::start(Some(unspecified.parse().unwrap()));
        assert!(
            matches!(refused, Err(crate::Error::Config(ref m)) if m.contains("give the address")),
            "{unspecified}: {refused:?}"
        );
    }
    let Some(ip) = network_address() else {
        eprintln!("skipped the off-loopback half: this machine has no network address");
        return;
    };
    let server = MediaServer::start(loopback(), MediaLimits::default()).unwrap();
    let stranger = WebRtcPeer::on(SocketAddr::new(ip, 0)).unwrap();
    publish(&server, "stranger", &stranger).unwrap();
    let local = WebRtcPeer::new().unwrap();
    publish(&server, "local", &local).unwrap();
    assert!(local.wait_for(SECONDS_10, |s| s.connected).await);
    assert!(
        !stranger
            .wait_for(Duration::from_secs(2), |s| s.connected)
            .await
    );
}

/// A panic in str0m on one peer, met while writing to it, drops that peer at the next drive
/// and nobody else.
#[test]
fn a_peer_str0m_panics_on_is_dropped_alone() {
    let mut engine = Engine::new(
        SocketAddr::from(([127, 0, 0, 1], 9)),
        MediaLimits::default(),
    );
    for session in ["alice", "bob"] {
        let peer = WebRtcPeer::new().unwrap();
        let (offer, mids) = peer.offer_to_publish().unwrap();
        let names = [(mids[0].clone(), "mic".to_string())];
        engine
            .answer_offer(&key(session), &offer.sdp, &names)
            .unwrap();
    }
    let now = std::time::Instant::now();
    engine.give(&key("bob"), 10, now, |_| panic!("as str0m might"));
    engine.drive(now, &mut Vec::new());
    assert_eq!(engine.counts(), (1, 1, 0));
    assert!(engine.in_use(now, Duration::from_secs(1))[0].0 == key("alice"));
}

/// Tracks nobody publishes take no media section: a pull of those alone offers nothing and
/// leaves the session all its sections; among others, they count for nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_of_nothing_takes_no_section() {
    let limits = MediaLimits {
        sections: 2,
        ..MediaLimits::default()
    };
    let server = MediaServer::start(loopback(), limits).unwrap();
    let alice = WebRtcPeer::new().unwrap();
    publish(&server, "alice", &alice).unwrap();
    let nobody = vec![(key("nobody"), "mic".to_string()); 3];
    assert!(server.engine().offer_pull(&key("bob"), &nobody).is_err());
    let two_and_nothing = [
        (key("alice"), "mic".to_string()),
        (key("alice"), "cam".to_string()),
        (key("nobody"), "mic".to_string()),
    ];
    server
        .engine()
        .offer_pull(&key("bob"), &two_and_nothing)
        .unwrap();
}
