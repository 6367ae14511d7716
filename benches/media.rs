//! The fake's media forwarding on this machine: calls of N participants, each publishing a
//! microphone and a camera ([`WebRtcPeer`]: 50 audio frames of 60 bytes a second, and 30 video
//! frames a second of 900 bytes (one RTP packet each: "light") or of 6,000 bytes (about 1.5
//! Mbit/s, five packets a frame: "camera")) and pulling everyone else's, through the fake's
//! SFU and its API, as an app's backend would. For each N: the media thread's CPU (share of one
//! core), the whole process's (the participants' peers are threads of it too), and the share of
//! the frames sent that arrived where they were pulled.
//!
//!     cargo bench --bench media --features fake-media        (Linux: reads /proc/self/task)
//!     BENCH_SECONDS=20 cargo bench --bench media --features fake-media   (longer windows)
//!
//! Run without `--bench` (`cargo test --benches`, as CI does), it is a smoke run: one call of
//! two participants with light video for one second, checked to carry audio and video.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use apps_api::cloudflare::sfu::{NewTracks, RealtimeClient, Session, TrackRequest};
use apps_api::fake::{FakeConfig, FakeServer, PeerStats, WebRtcPeer};

/// Sizes of call measured (16 is the most: 32 media sections a session).
const PARTICIPANTS: [usize; 7] = [2, 4, 6, 8, 10, 12, 16];
/// Video frame sizes measured.
const VIDEO: [(&str, usize); 2] = [("light", 900), ("camera", 6_000)];
const WARM_UP: Duration = Duration::from_secs(2);

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let window = Duration::from_secs(
        std::env::var("BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(if smoke { 1 } else { 5 }),
    );
    let (videos, sizes) = if smoke {
        (&VIDEO[..1], &PARTICIPANTS[..1])
    } else {
        (&VIDEO[..], &PARTICIPANTS[..])
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("{window:?} windows after {WARM_UP:?} of warm-up");
    println!(
        "| video | participants | streams forwarded | media thread, % of a core \
         | process, % of a core | audio frames arrived | video frames arrived |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &(video, frame_bytes) in videos {
        for &participants in sizes {
            let row = runtime.block_on(measure(participants, frame_bytes, window));
            print_row(video, participants, &row);
            assert!(row.audio.0 > 0 && row.video.0 > 0, "no media arrived");
        }
    }
}

fn print_row(video: &str, participants: usize, row: &Row) {
    println!(
        "| {video} | {participants} | {} | {:.1} % | {:.1} % | {:.2} % ({} of {}) | {:.2} % ({} of {}) |",
        participants * (participants - 1) * 2,
        row.media_cpu * 100.0,
        row.process_cpu * 100.0,
        share(row.audio),
        row.audio.0,
        row.audio.1,
        share(row.video),
        row.video.0,
        row.video.1,
    );
}

fn share((arrived, sent): (u64, u64)) -> f64 {
    if sent == 0 {
        return 0.0;
    }
    arrived as f64 * 100.0 / sent as f64
}

struct Row {
    /// CPU time over wall time.
    media_cpu: f64,
    process_cpu: f64,
    /// Frames arrived, and expected (sent by each publisher, times its subscribers).
    audio: (u64, u64),
    video: (u64, u64),
}

async fn measure(participants: usize, frame_bytes: usize, window: Duration) -> Row {
    let media = SocketAddr::from(([127, 0, 0, 1], 0));
    let fake = FakeServer::start_with(FakeConfig::new().media(media))
        .await
        .unwrap();
    let created = fake
        .cloudflare_client()
        .unwrap()
        .calls(fake.account_id())
        .create(Some("bench"))
        .await
        .unwrap();
    let sfu = fake
        .realtime_client(created.app.id.clone().unwrap(), created.secret)
        .unwrap();
    let mut call = Vec::new();
    for _ in 0..participants {
        let (peer, session) = join(&sfu).await;
        peer.set_video_frame_bytes(frame_bytes);
        call.push((peer, session));
    }
    for (i, (peer, session)) in call.iter().enumerate() {
        let pulls = call
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, (_, from))| {
                ["mic", "cam"].map(|name| TrackRequest::remote(from.id().clone(), name))
            });
        let pulled = session.add_tracks(&NewTracks::new(pulls)).await.unwrap();
        assert!(pulled.tracks.is_complete(), "{:?}", pulled.tracks);
        let answer = peer.answer(&pulled.session_description.unwrap()).unwrap();
        session.renegotiate(&answer).await.unwrap();
    }
    for (peer, _) in &call {
        let everyone = (participants as u64 - 1) * 5;
        let flowing = peer
            .wait_for(Duration::from_secs(10), |s| s.video_frames >= everyone)
            .await;
        assert!(flowing, "no media: {:?}", peer.stats());
    }
    tokio::time::sleep(WARM_UP).await;
    let before = (cpu(), stats(&call), Instant::now());
    tokio::time::sleep(window).await;
    let after = (cpu(), stats(&call), Instant::now());
    let wall = (after.2 - before.2).as_secs_f64();
    let subscribers = participants as u64 - 1;
    let delta = |f: fn(&PeerStats) -> u64| -> u64 {
        after
            .1
            .iter()
            .zip(&before.1)
            .map(|(a, b)| f(a) - f(b))
            .sum()
    };
    drop(call);
    Row {
        media_cpu: (after.0 .0 - before.0 .0).as_secs_f64() / wall,
        process_cpu: (after.0 .1 - before.0 .1).as_secs_f64() / wall,
        audio: (
            delta(|s| s.audio_frames),
            delta(|s| s.audio_frames_sent) * subscribers,
        ),
        video: (
            delta(|s| s.video_frames),
            delta(|s| s.video_frames_sent) * subscribers,
        ),
    }
}

/// A participant: a peer publishing its microphone and camera in a session of its own.
async fn join(sfu: &RealtimeClient) -> (WebRtcPeer, Session) {
    let peer = WebRtcPeer::new().unwrap();
    let (offer, mids) = peer.offer_to_publish().unwrap();
    let session = sfu.session(sfu.create_session().await.unwrap().session_id);
    let published = session
        .add_tracks(
            &NewTracks::new([
                TrackRequest::local(mids[0].clone(), "mic"),
                TrackRequest::local(mids[1].clone(), "cam"),
            ])
            .offer(offer),
        )
        .await
        .unwrap();
    peer.accept_answer(&published.session_description.unwrap())
        .unwrap();
    (peer, session)
}

fn stats(call: &[(WebRtcPeer, Session)]) -> Vec<PeerStats> {
    call.iter().map(|(peer, _)| peer.stats()).collect()
}

/// CPU time so far of the fake's media thread and of the whole process
/// (`/proc/self/task/*/schedstat`: nanoseconds on a CPU).
fn cpu() -> (Duration, Duration) {
    let (mut media, mut all) = (0u64, 0u64);
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let path = task.path();
        let Ok(schedstat) = std::fs::read_to_string(path.join("schedstat")) else {
            continue;
        };
        let ns: u64 = schedstat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        all += ns;
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        // (Thread names are cut to 15 bytes.)
        if comm.trim_end() == "apps-api fake m" {
            media += ns;
        }
    }
    (Duration::from_nanos(media), Duration::from_nanos(all))
}
