//! Real media through the fake's SFU (feature `fake-media`): two WebRTC peers of str0m, one
//! publishing synthetic audio and video through the fake, the other pulling both, with the
//! signalling through the crate's own SFU client. Packets must arrive, and the session's state
//! must show the tracks carrying media.
#![cfg(feature = "fake-media")]

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apps_api::cloudflare::sfu::{
    NewTracks, RealtimeClient, SdpType, Session, SessionDescription, Status, TrackRequest,
};
use apps_api::fake::{FakeConfig, FakeServer};
use str0m::change::SdpOffer;
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

/// What a peer saw.
#[derive(Debug, Default)]
struct Seen {
    connected: bool,
    audio_bytes: usize,
    video_bytes: usize,
    frames: usize,
}

/// A WebRTC peer on its own UDP socket, driven by a thread of its own once started.
struct Peer {
    rtc: Rtc,
    socket: UdpSocket,
}

impl Peer {
    fn new() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut rtc = Rtc::builder().build(Instant::now());
        let candidate = Candidate::host(socket.local_addr().unwrap(), "udp").unwrap();
        rtc.add_local_candidate(candidate);
        Self { rtc, socket }
    }

    /// Drives the peer until `stop`: publishes synthetic media on `send` (audio every 20 ms,
    /// a video frame every 33 ms) once connected, and counts what it receives.
    fn run(mut self, send: Vec<(Mid, MediaKind)>, seen: Arc<Mutex<Seen>>, stop: Arc<AtomicBool>) {
        let mut buf = vec![0u8; 2048];
        let started = Instant::now();
        let mut next_audio = started;
        let mut next_video = started;
        let mut frame = 0u64;
        while !stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            let connected = seen.lock().unwrap().connected;
            if connected {
                for (mid, kind) in &send {
                    let due = match kind {
                        MediaKind::Audio => &mut next_audio,
                        MediaKind::Video => &mut next_video,
                    };
                    if now < *due {
                        continue;
                    }
                    let Some(writer) = self.rtc.writer(*mid) else {
                        continue;
                    };
                    let Some(pt) = writer.payload_params().next().map(|p| p.pt()) else {
                        continue;
                    };
                    let elapsed = now - started;
                    let (time, data) = match kind {
                        MediaKind::Audio => {
                            *due += Duration::from_millis(20);
                            let time = MediaTime::from_micros(elapsed.as_micros() as u64);
                            (time, vec![0xF8u8; 60])
                        }
                        MediaKind::Video => {
                            *due += Duration::from_millis(33);
                            frame += 1;
                            (
                                MediaTime::from_micros(elapsed.as_micros() as u64),
                                vp8_frame(frame),
                            )
                        }
                    };
                    let _ = writer.write(pt, now, time, data);
                }
            }
            let timeout = loop {
                match self.rtc.poll_output() {
                    Ok(Output::Transmit(t)) => {
                        let _ = self.socket.send_to(&t.contents, t.destination);
                    }
                    Ok(Output::Timeout(t)) => break t,
                    Ok(Output::Event(event)) => {
                        let mut seen = seen.lock().unwrap();
                        match event {
                            Event::Connected => seen.connected = true,
                            Event::MediaData(data) => {
                                let kind = self.rtc.media(data.mid).map(|m| m.kind());
                                match kind {
                                    Some(MediaKind::Audio) => seen.audio_bytes += data.data.len(),
                                    _ => {
                                        seen.video_bytes += data.data.len();
                                        seen.frames += 1;
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                    Err(e) => panic!("peer failed: {e}"),
                }
            };
            let wait = timeout
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), Duration::from_millis(5));
            self.socket.set_read_timeout(Some(wait)).unwrap();
            let now = Instant::now();
            match self.socket.recv_from(&mut buf) {
                Ok((n, source)) => {
                    let destination = self.socket.local_addr().unwrap();
                    if let Ok(contents) =
                        Receive::new(Protocol::Udp, source, destination, &buf[..n])
                    {
                        let _ = self.rtc.handle_input(Input::Receive(now, contents));
                    }
                }
                Err(_) => {
                    let _ = self.rtc.handle_input(Input::Timeout(now));
                }
            }
        }
    }
}

/// A VP8 frame: a keyframe every 30 frames (its header as a decoder reads it), else an
/// interframe, with filler.
fn vp8_frame(n: u64) -> Vec<u8> {
    let mut frame = if n % 30 == 1 {
        // Frame tag (key frame, version 0, show frame, partition size), start code, 64x64.
        vec![0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x00, 0x40, 0x00]
    } else {
        vec![0x51, 0x01, 0x00]
    };
    frame.resize(900, 0x5A);
    frame
}

/// The fake with media, a Calls app on it, and its SFU client.
async fn on_the_fake() -> (FakeServer, RealtimeClient) {
    let media: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let fake = FakeServer::start_with(FakeConfig::new().media(media))
        .await
        .unwrap();
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

/// Polls until `check` holds of the peer's counts, or `within` passes.
fn until(seen: &Mutex<Seen>, within: Duration, check: impl Fn(&Seen) -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if check(&seen.lock().unwrap()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

async fn state_statuses(session: &Session) -> Vec<(String, Option<Status>)> {
    session
        .state()
        .await
        .unwrap()
        .tracks
        .into_iter()
        .map(|t| (t.track_name.unwrap_or_default(), t.status))
        .collect()
}

/// Alice publishes a microphone and a camera; Bob pulls both, answering the SFU's offer;
/// media arrives at Bob within seconds, and both sessions show their tracks active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_published_through_the_fake_reaches_the_puller() {
    let (fake, sfu) = on_the_fake().await;
    assert!(fake.media_address().unwrap().ip().is_loopback());
    let stop = Arc::new(AtomicBool::new(false));

    // Alice: an offer of two send-only sections.
    let mut alice = Peer::new();
    let mut changes = alice.rtc.sdp_api();
    let mic = changes.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    let cam = changes.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, pending) = changes.apply().unwrap();
    let alice_id = sfu.create_session().await.unwrap().session_id;
    let alice_session = sfu.session(&alice_id);
    let published = alice_session
        .add_tracks(
            &NewTracks::new([
                TrackRequest::local(mic.to_string(), "mic"),
                TrackRequest::local(cam.to_string(), "cam"),
            ])
            .offer(SessionDescription::offer(offer.to_sdp_string())),
        )
        .await
        .unwrap();
    assert!(published.tracks.is_complete(), "{:?}", published.tracks);
    let answer = published.session_description.unwrap();
    assert_eq!(answer.kind, SdpType::Answer);
    let answer = str0m::change::SdpAnswer::from_sdp_string(&answer.sdp).unwrap();
    alice.rtc.sdp_api().accept_answer(pending, answer).unwrap();
    let alice_seen = Arc::new(Mutex::new(Seen::default()));
    let alice_thread = {
        let (seen, stop) = (alice_seen.clone(), stop.clone());
        let send = vec![(mic, MediaKind::Audio), (cam, MediaKind::Video)];
        std::thread::spawn(move || alice.run(send, seen, stop))
    };

    // Bob pulls both: the SFU offers, Bob answers.
    let mut bob = Peer::new();
    let bob_id = sfu.create_session().await.unwrap().session_id;
    let bob_session = sfu.session(&bob_id);
    let pulled = bob_session
        .add_tracks(&NewTracks::new([
            TrackRequest::remote(alice_id.clone(), "mic"),
            TrackRequest::remote(alice_id.clone(), "cam"),
        ]))
        .await
        .unwrap();
    assert!(pulled.requires_immediate_renegotiation);
    assert!(pulled.tracks.is_complete(), "{:?}", pulled.tracks);
    let offer = pulled.session_description.unwrap();
    let offer = SdpOffer::from_sdp_string(&offer.sdp).unwrap();
    let answer = bob.rtc.sdp_api().accept_offer(offer).unwrap();
    bob_session
        .renegotiate(&SessionDescription::answer(answer.to_sdp_string()))
        .await
        .unwrap();
    let bob_seen = Arc::new(Mutex::new(Seen::default()));
    let bob_thread = {
        let (seen, stop) = (bob_seen.clone(), stop.clone());
        std::thread::spawn(move || bob.run(Vec::new(), seen, stop))
    };

    let arrived = until(&bob_seen, Duration::from_secs(10), |s| {
        s.audio_bytes > 1000 && s.video_bytes > 10_000
    });
    let statuses = (
        state_statuses(&alice_session).await,
        state_statuses(&bob_session).await,
    );
    stop.store(true, Ordering::SeqCst);
    alice_thread.join().unwrap();
    bob_thread.join().unwrap();
    let (alice_seen, bob_seen) = (alice_seen.lock().unwrap(), bob_seen.lock().unwrap());
    assert!(arrived, "alice {alice_seen:?}, bob {bob_seen:?}");
    for (name, status) in statuses.0.iter().chain(&statuses.1) {
        assert_eq!(*status, Some(Status::Active), "{name}: {statuses:?}");
    }
}

/// With media, an SDP no WebRTC peer made is refused as Cloudflare refuses it (400
/// `invalid_session_description`), and nothing is published.
#[tokio::test]
async fn an_opaque_sdp_is_refused_when_the_fake_carries_media() {
    let (_fake, sfu) = on_the_fake().await;
    let id = sfu.create_session().await.unwrap().session_id;
    let refused = sfu
        .session(&id)
        .add_tracks(&NewTracks::new([TrackRequest::local("0", "mic")]).offer(
            SessionDescription::offer("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(400), "{refused}");
    assert!(sfu.session(&id).state().await.unwrap().tracks.is_empty());
}
