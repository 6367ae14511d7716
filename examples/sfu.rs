//! Two participants in a Realtime SFU call, as a backend drives it: one publishes an audio and a
//! video track, the other pulls both, answers the SFU's offer, and both close.
//!
//! ```sh
//! cargo run --example sfu --features fake            # on the embedded fake server
//! CLOUDFLARE_CALLS_APP_ID=… CLOUDFLARE_CALLS_APP_SECRET=… \
//!   cargo run --example sfu --features fake -- --live  # on Cloudflare
//! ```
//!
//! In a real call the SDP comes from each participant's `RTCPeerConnection` (the backend only
//! relays it); here it is written out by hand, so on the live API the SFU accepts the
//! negotiation but no media ever flows, and a pull may come back as a per-item failure
//! (`not_found_track_error`, `empty_track_error`): the example prints those as the batch
//! reports them.

use std::process::ExitCode;

use apps_api::cloudflare::sfu::{
    CloseTracks, NewTracks, RealtimeClient, Session, SessionDescription, TrackRequest, TracksAnswer,
};
use apps_api::fake::FakeServer;
use apps_api::Error;

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
    let outcome = match client {
        Ok(client) => call(&client).await,
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

async fn call(sfu: &RealtimeClient) -> Result<(), Error> {
    println!("App {}", sfu.app_id());

    // Alice publishes her microphone and camera with her browser's offer.
    let alice = sfu.session(&sfu.create_session().await?.session_id);
    println!("alice: session {}", alice.id());
    let published = alice
        .add_tracks(
            &NewTracks::new([
                TrackRequest::local("0", "mic").kind("audio"),
                TrackRequest::local("1", "cam").kind("video"),
            ])
            .offer(SessionDescription::offer(OFFER)),
        )
        .await?;
    report("alice publishes", &published);
    // Her browser would now apply the SFU's answer: `published.session_description`.

    // Bob pulls both: the SFU makes an offer, which Bob's browser answers.
    let bob = sfu.session(&sfu.create_session().await?.session_id);
    println!("bob: session {}", bob.id());
    let pulled = bob
        .add_tracks(&NewTracks::new([
            TrackRequest::remote(alice.id(), "mic").kind("audio"),
            TrackRequest::remote(alice.id(), "cam").kind("video"),
        ]))
        .await?;
    report("bob pulls", &pulled);
    if pulled.requires_immediate_renegotiation {
        let offer = pulled.session_description.as_ref().map(|d| d.sdp.as_str());
        bob.renegotiate(&SessionDescription::answer(answer_to(offer.unwrap_or(""))))
            .await?;
        println!("bob: renegotiated (answered the SFU's offer)");
    }

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
    let closed = alice.close_tracks(&["0", "1"], &CloseTracks::Force).await?;
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
