//! Two participants in a Realtime SFU call, as a backend drives it: one publishes an audio and a
//! video track, the other pulls both, answers the SFU's offer, and both close.
//!
//! ```sh
//! cargo run --example sfu --features fake-media      # on the embedded fake, media flowing
//! cargo run --example sfu --features fake            # on the embedded fake, signalling only
//! CLOUDFLARE_CALLS_APP_ID=… CLOUDFLARE_CALLS_APP_SECRET=… \
//!   cargo run --example sfu --features fake -- --live  # on Cloudflare
//! ```
//!
//! In a real call the SDP comes from each participant's `RTCPeerConnection` (the backend only
//! relays it). With `fake-media`, on the fake, each participant is a real WebRTC peer
//! ([`apps_api::fake::WebRtcPeer`]): its SDP is real, the fake's SFU carries its media, and the
//! example reports what arrives. Otherwise the SDP is written out by hand: the SFU accepts the
//! negotiation but no media ever flows, and on the live API a pull may come back as a per-item
//! failure (`not_found_track_error`, `empty_track_error`): the example prints those as the
//! batch reports them.

use std::process::ExitCode;

use apps_api::cloudflare::sfu::{
    CloseTracks, NewTracks, RealtimeClient, Session, SessionDescription, TrackRequest, TracksAnswer,
};
use apps_api::fake::FakeServer;
use apps_api::Error;

/// How long media may take to arrive once Bob has answered.
#[cfg(feature = "fake-media")]
const MEDIA_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

#[tokio::main]
async fn main() -> ExitCode {
    let live = std::env::args().skip(1).any(|a| a == "--live");
    // Keep the fake alive for the whole call.
    let mut fake = None;
    let client = if live {
        RealtimeClient::from_env()
    } else {
        match on_the_fake().await {
            Ok((server, client)) => {
                fake = Some(server);
                Ok(client)
            }
            Err(e) => Err(e),
        }
    };
    let real = cfg!(feature = "fake-media") && !live;
    let outcome = match client {
        Ok(client) => call(&client, real).await,
        Err(e) => Err(e),
    };
    drop(fake);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The fake server, a Calls app made on it, and a client of that app (its secret signs the
/// SFU's requests).
async fn on_the_fake() -> Result<(FakeServer, RealtimeClient), Error> {
    #[cfg(feature = "fake-media")]
    let fake = {
        let media = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        FakeServer::start_with(apps_api::fake::FakeConfig::new().media(media)).await?
    };
    #[cfg(not(feature = "fake-media"))]
    let fake = FakeServer::start().await?;
    let cf = fake.cloudflare_client()?;
    let app = cf
        .calls(fake.account_id())
        .create(Some("sfu-example"))
        .await?;
    let id = app
        .app
        .id
        .clone()
        .ok_or_else(|| Error::InvalidArgument("the created app has no uid".into()))?;
    println!("On the embedded fake server ({})", fake.realtime_base_url());
    let client = fake.realtime_client(id, app.secret)?;
    Ok((fake, client))
}

async fn call(sfu: &RealtimeClient, real: bool) -> Result<(), Error> {
    println!("App {}", sfu.app_id());

    // Alice publishes her microphone and camera with her browser's offer.
    let alice_browser = Browser::new(real)?;
    let alice = sfu.session(&sfu.create_session().await?.session_id);
    println!("alice: session {}", alice.id());
    let (offer, mids) = alice_browser.offer_to_publish()?;
    let published = alice
        .add_tracks(
            &NewTracks::new([
                TrackRequest::local(mids[0].clone(), "mic").kind("audio"),
                TrackRequest::local(mids[1].clone(), "cam").kind("video"),
            ])
            .offer(offer),
        )
        .await?;
    report("alice publishes", &published);
    // Her browser applies the SFU's answer.
    if let Some(answer) = &published.session_description {
        alice_browser.accept_answer(answer)?;
    }

    // Bob pulls both: the SFU makes an offer, which Bob's browser answers.
    let bob_browser = Browser::new(real)?;
    let bob = sfu.session(&sfu.create_session().await?.session_id);
    println!("bob: session {}", bob.id());
    let pulled = bob
        .add_tracks(&NewTracks::new([
            TrackRequest::remote(alice.id(), "mic").kind("audio"),
            TrackRequest::remote(alice.id(), "cam").kind("video"),
        ]))
        .await?;
    report("bob pulls", &pulled);
    if let (true, Some(offer)) = (
        pulled.requires_immediate_renegotiation,
        &pulled.session_description,
    ) {
        bob.renegotiate(&bob_browser.answer(offer)?).await?;
        println!("bob: renegotiated (answered the SFU's offer)");
    }
    bob_browser.report_media().await?;

    for (who, session) in [("alice", &alice), ("bob", &bob)] {
        show_state(who, session).await?;
    }

    // Both leave. A close is safe to send again: a track already gone counts as closed.
    let bob_mids: Vec<String> = pulled
        .tracks
        .succeeded()
        .iter()
        .filter_map(|(_, track)| track.mid.clone())
        .collect();
    if !bob_mids.is_empty() {
        let mids: Vec<&str> = bob_mids.iter().map(String::as_str).collect();
        let closed = bob.close_tracks(&mids, &CloseTracks::Force).await?;
        println!("bob: closed {:?}", closed.tracks.succeeded());
    }
    let alice_mids: Vec<&str> = mids.iter().map(String::as_str).collect();
    let closed = alice.close_tracks(&alice_mids, &CloseTracks::Force).await?;
    println!("alice: closed {:?}", closed.tracks.succeeded());
    show_state("alice", &alice).await?;
    Ok(())
}

/// What a batch of tracks came to: each track as the request named it, with its mid or its
/// failure.
fn report(what: &str, answer: &TracksAnswer) {
    println!(
        "{what}: {} track(s) done, {} failed{}",
        answer.tracks.succeeded().len(),
        answer.tracks.failed().len(),
        if answer.requires_immediate_renegotiation {
            "; the SFU sent an offer to answer"
        } else {
            ""
        }
    );
    for (request, track) in answer.tracks.succeeded() {
        println!(
            "  {:<4} mid {}",
            request.track_name,
            track.mid.as_deref().unwrap_or("-")
        );
    }
    for failure in answer.tracks.failed() {
        println!(
            "  {:<4} failed: {} ({})",
            failure.request.track_name,
            failure.code,
            failure.description.as_deref().unwrap_or("no description")
        );
    }
}

async fn show_state(who: &str, session: &Session) -> Result<(), Error> {
    let state = session.state().await?;
    for track in &state.tracks {
        println!(
            "{who}: track {} mid {} {:?}",
            track.track_name.as_deref().unwrap_or("-"),
            track.mid.as_deref().unwrap_or("-"),
            track.status
        );
    }
    Ok(())
}

/// A participant's browser: a real WebRTC peer when the fake carries media, otherwise SDP
/// written out by hand.
enum Browser {
    #[cfg(feature = "fake-media")]
    Real(apps_api::fake::WebRtcPeer),
    Scripted,
}

impl Browser {
    fn new(real: bool) -> Result<Self, Error> {
        #[cfg(feature = "fake-media")]
        if real {
            return Ok(Self::Real(apps_api::fake::WebRtcPeer::new()?));
        }
        let _ = real;
        Ok(Self::Scripted)
    }

    /// An offer to publish a microphone and a camera, and their mids.
    fn offer_to_publish(&self) -> Result<(SessionDescription, Vec<String>), Error> {
        match self {
            #[cfg(feature = "fake-media")]
            Self::Real(peer) => peer.offer_to_publish(),
            Self::Scripted => Ok((
                SessionDescription::offer(OFFER),
                vec!["0".into(), "1".into()],
            )),
        }
    }

    fn accept_answer(&self, answer: &SessionDescription) -> Result<(), Error> {
        match self {
            #[cfg(feature = "fake-media")]
            Self::Real(peer) => peer.accept_answer(answer),
            Self::Scripted => Ok(()),
        }
    }

    fn answer(&self, offer: &SessionDescription) -> Result<SessionDescription, Error> {
        match self {
            #[cfg(feature = "fake-media")]
            Self::Real(peer) => peer.answer(offer),
            Self::Scripted => Ok(SessionDescription::answer(answer_to(&offer.sdp))),
        }
    }

    /// Waits for media to arrive and says how much did; a peer that gets none is an error.
    async fn report_media(&self) -> Result<(), Error> {
        match self {
            #[cfg(feature = "fake-media")]
            Self::Real(peer) => {
                let started = std::time::Instant::now();
                let arrived = peer
                    .wait_for(MEDIA_WITHIN, |s| s.audio_bytes > 0 && s.video_frames > 0)
                    .await;
                let stats = peer.stats();
                if !arrived {
                    return Err(Error::InvalidArgument(format!(
                        "no media from alice within {MEDIA_WITHIN:?}: {stats:?}"
                    )));
                }
                println!(
                    "bob: media flowing: alice's audio and video arrived in {} ms",
                    started.elapsed().as_millis()
                );
                // Another second of the call, counted.
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let stats = peer.stats();
                println!(
                    "bob: {} audio bytes, {} video frames ({} bytes) received",
                    stats.audio_bytes, stats.video_frames, stats.video_bytes
                );
                Ok(())
            }
            Self::Scripted => {
                println!(
                    "bob: no media (SDP written by hand; `--features fake-media` for real peers)"
                );
                Ok(())
            }
        }
    }
}

/// A browser's offer to send one audio and one video track (what `createOffer()` gives, trimmed).
const OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0 1\r\n\
a=msid-semantic: WMS stream\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:EsAw\r\n\
a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 D7:87:8F:7A:3A:6D:1F:8F:36:8C:6A:2A:6E:0E:2F:72:0C:96:19:5A:5B:73:1C:33:A5:D9:1E:39:94:D4:68:D3\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=sendonly\r\n\
a=msid:stream mic\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=ssrc:1001 cname:example\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:EsAw\r\n\
a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 D7:87:8F:7A:3A:6D:1F:8F:36:8C:6A:2A:6E:0E:2F:72:0C:96:19:5A:5B:73:1C:33:A5:D9:1E:39:94:D4:68:D3\r\n\
a=setup:actpass\r\n\
a=mid:1\r\n\
a=sendonly\r\n\
a=msid:stream cam\r\n\
a=rtcp-mux\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=ssrc:1002 cname:example\r\n";

/// A browser's answer to the SFU's offer, receiving every media section it offers: the offer's
/// sections, with this end's ICE credentials and DTLS role, and receive-only.
fn answer_to(offer: &str) -> String {
    let mut answer = String::new();
    for line in offer.lines() {
        let line = line.trim_end_matches('\r');
        let line = match line {
            _ if line.starts_with("a=ice-ufrag:") => "a=ice-ufrag:Bob1",
            _ if line.starts_with("a=ice-pwd:") => "a=ice-pwd:9JtxcUyCNYqKHmOJv2PbMrDx",
            _ if line.starts_with("a=setup:") => "a=setup:active",
            "a=sendonly" | "a=sendrecv" => "a=recvonly",
            _ if line.starts_with("a=candidate:")
                || line.starts_with("a=ssrc")
                || line.starts_with("a=msid:") =>
            {
                continue
            }
            _ => line,
        };
        answer.push_str(line);
        answer.push_str("\r\n");
    }
    if answer.is_empty() {
        answer.push_str("v=0\r\n");
    }
    answer
}
