//! A WebRTC peer for tests (feature `fake-media`): what a browser would do against the fake's
//! SFU, without a browser. It publishes synthetic audio and video, answers the SFU's offers,
//! opens negotiated data channels, and counts what arrives.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, ChannelId};
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

use crate::cloudflare::sfu::{SdpType, SessionDescription};
use crate::Error;

/// What a [`WebRtcPeer`] saw so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerStats {
    /// ICE and DTLS are up.
    pub connected: bool,
    /// Audio frames received.
    pub audio_frames: u64,
    /// Audio received, in bytes of frames.
    pub audio_bytes: u64,
    /// Video received, in bytes of frames.
    pub video_bytes: u64,
    /// Video frames received.
    pub video_frames: u64,
    /// Audio frames it sent.
    pub audio_frames_sent: u64,
    /// Video frames it sent.
    pub video_frames_sent: u64,
    /// Text messages received on data channels, with the channel's name.
    pub messages: Vec<(String, String)>,
}

/// A WebRTC peer on its own UDP socket of 127.0.0.1, driven by a thread of its own until it is
/// dropped: a stand-in for a browser in tests of an app's backend against the fake's SFU.
///
/// ```no_run
/// # async fn run(sfu: apps_api::cloudflare::sfu::RealtimeClient) -> Result<(), apps_api::Error> {
/// use apps_api::cloudflare::sfu::{NewTracks, TrackRequest};
/// use apps_api::fake::WebRtcPeer;
/// let alice = WebRtcPeer::new()?;
/// let (offer, mids) = alice.offer_to_publish()?;
/// let session = sfu.session(sfu.create_session().await?.session_id);
/// let tracks = [TrackRequest::local(mids[0].clone(), "mic"), TrackRequest::local(mids[1].clone(), "cam")];
/// let answer = session.add_tracks(&NewTracks::new(tracks).offer(offer)).await?;
/// alice.accept_answer(&answer.session_description.expect("an answer"))?;
/// # Ok(()) }
/// ```
pub struct WebRtcPeer {
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    rtc: Rtc,
    pending: Option<SdpPendingOffer>,
    /// What it publishes: mid and kind.
    sending: Vec<(Mid, MediaKind)>,
    /// Its data channels: ID and name.
    channels: Vec<(ChannelId, String)>,
    /// The size of the video frames it sends.
    video_frame_bytes: usize,
    stats: PeerStats,
}

impl std::fmt::Debug for WebRtcPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcPeer")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn failed(what: &str, why: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("{what}: {why}"))
}

impl WebRtcPeer {
    /// A peer on a free UDP port of 127.0.0.1.
    pub fn new() -> Result<Self, Error> {
        Self::on(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// A peer on `address`.
    pub(crate) fn on(address: std::net::SocketAddr) -> Result<Self, Error> {
        super::install_crypto();
        let socket = UdpSocket::bind(address).map_err(|e| failed("no UDP socket", e))?;
        let local = socket.local_addr().map_err(|e| failed("no address", e))?;
        let mut rtc = Rtc::builder().build(Instant::now());
        let candidate = Candidate::host(local, "udp").map_err(|e| failed("no candidate", e))?;
        let _ = rtc.add_local_candidate(candidate);
        let shared = Arc::new(Mutex::new(Shared {
            rtc,
            pending: None,
            sending: Vec::new(),
            channels: Vec::new(),
            video_frame_bytes: VIDEO_FRAME_BYTES,
            stats: PeerStats::default(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::Builder::new()
                .name("apps-api test peer".into())
                .spawn(move || drive(&socket, &shared, &stop))
                .map_err(|e| failed("no thread", e))?
        };
        Ok(Self {
            shared,
            stop,
            thread: Some(thread),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An offer to publish a microphone and a camera (send-only), and their mids, in that
    /// order. Once connected, it sends synthetic frames on them: audio every 20 ms, video every
    /// 33 ms (a keyframe every second).
    pub fn offer_to_publish(&self) -> Result<(SessionDescription, Vec<String>), Error> {
        let mut shared = self.lock();
        let mut changes = shared.rtc.sdp_api();
        let mic = changes.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let cam = changes.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = changes
            .apply()
            .ok_or_else(|| failed("no offer", "nothing to offer"))?;
        shared.pending = Some(pending);
        shared.sending = vec![(mic, MediaKind::Audio), (cam, MediaKind::Video)];
        let mids = vec![mic.to_string(), cam.to_string()];
        Ok((SessionDescription::offer(offer.to_sdp_string()), mids))
    }

    /// Takes the SFU's answer to its offer.
    pub fn accept_answer(&self, answer: &SessionDescription) -> Result<(), Error> {
        let parsed = SdpAnswer::from_sdp_string(&answer.sdp).map_err(|e| failed("answer", e))?;
        let mut shared = self.lock();
        let pending = shared
            .pending
            .take()
            .ok_or_else(|| failed("answer", "no offer of this peer waits for one"))?;
        shared
            .rtc
            .sdp_api()
            .accept_answer(pending, parsed)
            .map_err(|e| failed("answer", e))
    }

    /// Its answer to the SFU's offer (tracks pulled, a data channel transport).
    pub fn answer(&self, offer: &SessionDescription) -> Result<SessionDescription, Error> {
        if offer.kind != SdpType::Offer {
            return Err(failed("offer", "not an offer"));
        }
        let parsed = SdpOffer::from_sdp_string(&offer.sdp).map_err(|e| failed("offer", e))?;
        let answer = self
            .lock()
            .rtc
            .sdp_api()
            .accept_offer(parsed)
            .map_err(|e| failed("offer", e))?;
        Ok(SessionDescription::answer(answer.to_sdp_string()))
    }

    /// Opens the data channel `name` the SFU allocated as `id` (negotiated out of band).
    pub fn open_channel(&self, name: &str, id: u16) {
        let mut shared = self.lock();
        let channel = shared.rtc.direct_api().create_data_channel(ChannelConfig {
            label: name.to_string(),
            negotiated: Some(id),
            ..ChannelConfig::default()
        });
        shared.channels.push((channel, name.to_string()));
    }

    /// Sends `text` on its data channel `name`; `false` if it is not open (yet).
    pub fn send(&self, name: &str, text: &str) -> bool {
        let mut shared = self.lock();
        let Some(id) = shared
            .channels
            .iter()
            .find(|(_, n)| n == name)
            .map(|(id, _)| *id)
        else {
            return false;
        };
        match shared.rtc.channel(id) {
            Some(mut channel) => channel.write(false, text.as_bytes()).is_ok(),
            None => false,
        }
    }

    /// Sends video frames of `bytes` (default 900: 27 kB/s; a camera at about 1.5 Mbit/s sends
    /// about 6,000), within 16 bytes and 100 kB.
    pub fn set_video_frame_bytes(&self, bytes: usize) {
        self.lock().video_frame_bytes = bytes.clamp(16, 100_000);
    }

    /// What it saw so far.
    pub fn stats(&self) -> PeerStats {
        self.lock().stats.clone()
    }

    /// Waits (polling) until `check` holds of its stats, or `within` passes; whether it held.
    pub async fn wait_for(&self, within: Duration, check: impl Fn(&PeerStats) -> bool) -> bool {
        let until = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < until {
            if check(&self.stats()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        check(&self.stats())
    }
}

impl Drop for WebRtcPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The size of the video frames a peer sends unless told otherwise.
const VIDEO_FRAME_BYTES: usize = 900;

/// A synthetic VP8 frame of `size` bytes: a keyframe every 30 frames (its header as a decoder
/// reads it), else an interframe, with filler.
fn vp8_frame(n: u64, size: usize) -> Vec<u8> {
    let mut frame = if n % 30 == 1 {
        vec![0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x00, 0x40, 0x00]
    } else {
        vec![0x51, 0x01, 0x00]
    };
    frame.resize(size, 0x5A);
    frame
}

/// The peer's loop: synthetic frames out, datagrams in, everything it has to send.
fn drive(socket: &UdpSocket, shared: &Mutex<Shared>, stop: &AtomicBool) {
    let Ok(local) = socket.local_addr() else {
        return;
    };
    let mut buf = vec![0u8; 2048];
    let started = Instant::now();
    let (mut next_audio, mut next_video, mut frame) = (started, started, 0u64);
    while !stop.load(Ordering::SeqCst) {
        let timeout = {
            let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
            let shared = &mut *guard;
            let now = Instant::now();
            if shared.stats.connected {
                for (mid, kind) in shared.sending.clone() {
                    let due = match kind {
                        MediaKind::Audio => &mut next_audio,
                        MediaKind::Video => &mut next_video,
                    };
                    if now < *due {
                        continue;
                    }
                    let Some(writer) = shared.rtc.writer(mid) else {
                        continue;
                    };
                    let Some(pt) = writer.payload_params().next().map(|p| p.pt()) else {
                        continue;
                    };
                    let time = MediaTime::from_micros((now - started).as_micros() as u64);
                    let data = match kind {
                        MediaKind::Audio => {
                            *due += Duration::from_millis(20);
                            vec![0xF8u8; 60]
                        }
                        MediaKind::Video => {
                            *due += Duration::from_millis(33);
                            frame += 1;
                            vp8_frame(frame, shared.video_frame_bytes)
                        }
                    };
                    if writer.write(pt, now, time, data).is_ok() {
                        match kind {
                            MediaKind::Audio => shared.stats.audio_frames_sent += 1,
                            MediaKind::Video => shared.stats.video_frames_sent += 1,
                        }
                    }
                }
            }
            poll(socket, shared)
        };
        let wait = timeout
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(1), Duration::from_millis(5));
        if socket.set_read_timeout(Some(wait)).is_err() {
            return;
        }
        let received = socket.recv_from(&mut buf);
        let now = Instant::now();
        let mut shared = shared.lock().unwrap_or_else(|p| p.into_inner());
        let input = match &received {
            Ok((n, source)) => match Receive::new(Protocol::Udp, *source, local, &buf[..*n]) {
                Ok(contents) => Input::Receive(now, contents),
                Err(_) => continue,
            },
            Err(_) => Input::Timeout(now),
        };
        let _ = shared.rtc.handle_input(input);
    }
}

/// Everything the peer has to send, and what it received; when it next has work.
fn poll(socket: &UdpSocket, shared: &mut Shared) -> Instant {
    loop {
        match shared.rtc.poll_output() {
            Ok(Output::Transmit(t)) => {
                let _ = socket.send_to(&t.contents, t.destination);
            }
            Ok(Output::Timeout(at)) => return at,
            Ok(Output::Event(event)) => match event {
                Event::Connected => shared.stats.connected = true,
                Event::MediaData(data) => {
                    let size = data.data.len() as u64;
                    match shared.rtc.media(data.mid).map(|m| m.kind()) {
                        Some(MediaKind::Audio) => {
                            shared.stats.audio_frames += 1;
                            shared.stats.audio_bytes += size;
                        }
                        _ => {
                            shared.stats.video_bytes += size;
                            shared.stats.video_frames += 1;
                        }
                    }
                }
                Event::ChannelData(data) => {
                    let name = shared
                        .channels
                        .iter()
                        .find(|(id, _)| *id == data.id)
                        .map(|(_, name)| name.clone())
                        .unwrap_or_default();
                    let text = String::from_utf8_lossy(&data.data).into_owned();
                    if shared.stats.messages.len() < 1000 {
                        shared.stats.messages.push((name, text));
                    }
                }
                _ => {}
            },
            Err(_) => return Instant::now() + Duration::from_millis(5),
        }
    }
}
