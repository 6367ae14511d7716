//! Data channel messages through the media server: what each publisher sends and what each
//! peer is given both have caps.

use std::time::Duration;

use super::{key, loopback};
use crate::cloudflare::sfu::SessionDescription;
use crate::fake::media::{Allocated, MediaLimits, MediaServer, WebRtcPeer};

/// Each session's SCTP transport, established with its first channel, answered by its peer.
fn establish(server: &MediaServer, sessions: &[(&str, &WebRtcPeer, Allocated<'_>)]) {
    for (session, peer, first) in sessions {
        let (offer, _) = server
            .engine()
            .establish(&key(session), first, None)
            .unwrap();
        let answer = peer.answer(&SessionDescription::offer(offer)).unwrap();
        server
            .engine()
            .accept_answer(&key(session), &answer.sdp)
            .unwrap();
        peer.open_channel(first.name, first.id);
    }
}

/// Sends `message` from Alice until one reaches Bob (the channels open in their own time).
async fn first_crossing(alice: &WebRtcPeer, bob: &WebRtcPeer, message: &str) {
    for _ in 0..100 {
        alice.send("chat", message);
        if bob
            .wait_for(Duration::from_millis(100), |s| !s.messages.is_empty())
            .await
        {
            return;
        }
    }
    panic!("no message crossed: {:?}", bob.stats());
}

/// Messages count against their publisher's bitrate as media does: past it, dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_past_the_bitrate_are_dropped() {
    let limits = MediaLimits {
        bytes_per_second: 1_000,
        ..MediaLimits::default()
    };
    let server = MediaServer::start(loopback(), limits).unwrap();
    let (alice, bob) = (WebRtcPeer::new().unwrap(), WebRtcPeer::new().unwrap());
    let from = key("alice");
    // Alice's transport comes with her channel; Bob's with one of his, then he subscribes.
    let chat = |from| Allocated {
        id: 1,
        name: "chat",
        from,
        ordered: true,
    };
    let events = Allocated {
        id: 2,
        name: "events",
        from: None,
        ordered: true,
    };
    establish(
        &server,
        &[("alice", &alice, chat(None)), ("bob", &bob, events)],
    );
    server
        .engine()
        .open_channel(&key("bob"), &chat(Some(&from)))
        .unwrap();
    bob.open_channel("chat", 1);
    let message = "m".repeat(100);
    first_crossing(&alice, &bob, &message).await;
    // A second's worth: 1,000 bytes of 100-byte messages.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = bob.stats().messages.len();
    for _ in 0..50 {
        alice.send("chat", &message);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = bob.stats().messages.len() - before;
    assert!(
        (1..=11).contains(&got),
        "{got} of 50 messages within the second"
    );
}

/// What is forwarded to one peer has a cap of its own, messages too: subscribed to the same
/// channel again and again, a peer still gets no more than the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_forwarded_past_a_peers_cap_are_dropped() {
    let limits = MediaLimits {
        forwarded_bytes_per_second: 1_000,
        ..MediaLimits::default()
    };
    let server = MediaServer::start(loopback(), limits).unwrap();
    let (alice, bob) = (WebRtcPeer::new().unwrap(), WebRtcPeer::new().unwrap());
    let from = key("alice");
    let chat = |id, from| Allocated {
        id,
        name: "chat",
        from,
        ordered: true,
    };
    establish(
        &server,
        &[
            ("alice", &alice, chat(1, None)),
            ("bob", &bob, chat(2, None)),
        ],
    );
    // Bob subscribes to Alice's channel on five streams.
    for id in 3..8 {
        let channel = chat(id, Some(&from));
        server.engine().open_channel(&key("bob"), &channel).unwrap();
        bob.open_channel("chat", id);
    }
    let message = "m".repeat(100);
    first_crossing(&alice, &bob, &message).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = bob.stats().messages.len();
    for _ in 0..10 {
        alice.send("chat", &message);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = bob.stats().messages.len() - before;
    // 10 messages on 5 streams: 50 copies of 100 bytes; the cap lets 10 through.
    assert!((1..=11).contains(&got), "{got} copies within the second");
}
