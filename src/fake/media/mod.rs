//! Real media in the fake (feature `fake-media`): a small SFU on str0m, behind the fake's
//! Realtime SFU API. Each SFU session with real SDP is one WebRTC peer (ICE-lite, DTLS, SRTP,
//! SCTP) on one UDP port on 127.0.0.1; a published track's media is forwarded, frame by frame,
//! to every session that pulls it, and data channel messages to every subscriber.
//!
//! Bounded and hostile-safe: at most [`MediaLimits::peers`] peers, each limited in tracks and
//! in bitrate (what is past it is dropped, not forwarded); a peer idle for
//! [`MediaLimits::idle`] is dropped with its state; a datagram no peer accepts is dropped
//! without being kept or acted on, and on a loopback address one from off the machine is not
//! even read further.

mod channels;
mod engine;
mod peer;
#[cfg(test)]
mod tests;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) use channels::Allocated;
pub(crate) use engine::{is_real, Engine, Key};
pub use peer::{PeerStats, WebRtcPeer};

use crate::fake::{FakeConfig, State};

impl FakeConfig {
    /// Carries real media (feature `fake-media`): the SFU terminates WebRTC on this UDP
    /// address (port 0: any free one), so browsers and other WebRTC peers can publish and
    /// pull through it. On a loopback address (`127.0.0.1:0`, as the CLI uses) it reads
    /// nothing from off this machine; another address (this machine's on a network, to call
    /// from a phone) is reachable from that network. Not `0.0.0.0`: the address is the one
    /// peers are told to send to, so starting the fake fails with
    /// [`Error::Config`](crate::Error::Config). Off by default: without it, the SFU answers
    /// any SDP with SDP and carries nothing; with it, only real SDP is taken.
    pub fn media(mut self, address: std::net::SocketAddr) -> Self {
        self.media = Some(address);
        self
    }
}

impl crate::fake::FakeServer {
    /// The UDP address its SFU carries media on, if it does ([`FakeConfig::media`]).
    pub fn media_address(&self) -> Option<SocketAddr> {
        self.state.media.as_ref().map(MediaServer::address)
    }
}

/// The media server a fake with these settings runs, if it carries media.
pub(crate) fn start(address: Option<SocketAddr>) -> Result<Option<MediaServer>, crate::Error> {
    let Some(address) = address else {
        return Ok(None);
    };
    if address.ip().to_canonical().is_unspecified() {
        // The address is the peers' ICE candidate: it must be one they can reach.
        return Err(crate::Error::Config(format!(
            "the fake cannot carry media on {address}: give the address peers reach it on \
             (127.0.0.1, or this machine's address on a network)"
        )));
    }
    MediaServer::start(address, MediaLimits::default())
        .map(Some)
        .map_err(|e| crate::Error::Config(format!("the fake cannot carry media on {address}: {e}")))
}

/// The media server's limits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MediaLimits {
    /// Peers (sessions with media) at once.
    pub(crate) peers: usize,
    /// Media sections (tracks and the data section) per peer.
    pub(crate) sections: usize,
    /// Bytes per second a peer may send to be forwarded (media and messages); past it,
    /// dropped.
    pub(crate) bytes_per_second: u64,
    /// Bytes per second forwarded to one peer, whatever it pulls; past it, dropped.
    pub(crate) forwarded_bytes_per_second: u64,
    /// A peer that sent nothing for this long is dropped.
    pub(crate) idle: Duration,
}

impl Default for MediaLimits {
    fn default() -> Self {
        Self {
            peers: 64,
            sections: 32,
            // 4 Mbit/s: a 720p camera and a microphone, with room.
            bytes_per_second: 500_000,
            // Eight publishers at their limit.
            forwarded_bytes_per_second: 4_000_000,
            idle: Duration::from_secs(30),
        }
    }
}

/// The media server: its UDP port, its engine, and the thread that runs it.
pub(crate) struct MediaServer {
    engine: Arc<Mutex<Engine>>,
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The fake whose SFU sessions the peers belong to, and its runtime (for its clock).
    fake: Arc<OnceLock<Watched>>,
}

impl std::fmt::Debug for MediaServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaServer")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl MediaServer {
    /// Listens on `address` (127.0.0.1 unless asked otherwise; port 0: any free one).
    pub(crate) fn start(address: SocketAddr, limits: MediaLimits) -> std::io::Result<Self> {
        install_crypto();
        let socket = UdpSocket::bind(address)?;
        let address = socket.local_addr()?;
        let engine = Arc::new(Mutex::new(Engine::new(address, limits)));
        let stop = Arc::new(AtomicBool::new(false));
        let fake = Arc::new(OnceLock::new());
        let thread = {
            let (engine, stop, fake) = (engine.clone(), stop.clone(), fake.clone());
            std::thread::Builder::new()
                .name("apps-api fake media".into())
                .spawn(move || run(&socket, &engine, &stop, &fake))?
        };
        Ok(Self {
            engine,
            address,
            stop,
            thread: Some(thread),
            fake,
        })
    }

    /// Ties the peers to `fake`'s SFU sessions: a session whose peer is connected stays in
    /// use, and a peer whose session is no more is dropped (within [`SYNC_EVERY`]).
    pub(crate) fn watch(&self, fake: &Arc<State>) {
        let runtime = tokio::runtime::Handle::try_current().ok();
        let _ = self.fake.set((Arc::downgrade(fake), runtime));
    }

    /// The UDP address media goes to.
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// The engine, for the API's handlers (a short lock: no I/O is done under it).
    pub(crate) fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for MediaServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The loop wakes within its longest wait and sees the flag.
        if let Some(thread) = self.thread.take() {
            // (The loop itself may hold the fake last, for a moment: it cannot wait for itself.)
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

/// str0m's crypto, once per process.
fn install_crypto() {
    static CRYPTO: OnceLock<()> = OnceLock::new();
    CRYPTO.get_or_init(|| str0m::crypto::from_feature_flags().install_process_default());
}

/// The longest the loop sleeps: changes the API made (an answer to send, a new route) are
/// acted on within it.
const LONGEST_WAIT: Duration = Duration::from_millis(10);

/// How often the peers are checked against the fake's SFU sessions.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// The least time between two drives a datagram set off: a peer sending fast does not make the
/// loop drive every peer for each of its datagrams.
const LEAST_DRIVE_GAP: Duration = Duration::from_millis(1);

/// The fake a media server serves, and the runtime it runs on.
type Watched = (Weak<State>, Option<tokio::runtime::Handle>);

/// The loop: datagrams in, timeouts, everything each peer has to send out. It drives the
/// peers when one is due, when a datagram was taken by a peer, and at least every
/// [`LONGEST_WAIT`]; a datagram no peer takes costs nothing more than the look, so a flood of
/// junk does not slow the peers down.
fn run(socket: &UdpSocket, engine: &Mutex<Engine>, stop: &AtomicBool, fake: &OnceLock<Watched>) {
    let mut buf = vec![0u8; 2048];
    let lock = || engine.lock().unwrap_or_else(|p| p.into_inner());
    // Bound to loopback: nothing from off this machine is read.
    let loopback_only = socket.local_addr().is_ok_and(|a| a.ip().is_loopback());
    let mut next = Instant::now();
    let mut driven = Instant::now();
    let mut synced = Instant::now();
    let mut out = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now.saturating_duration_since(synced) >= SYNC_EVERY {
            synced = now;
            if let Some((state, runtime)) = fake.get().and_then(|(s, r)| Some((s.upgrade()?, r))) {
                // One lock at a time: the API's handlers take the store, then the engine.
                let peers = lock().in_use(now, SYNC_EVERY * 2);
                let gone =
                    crate::fake::cloudflare::sfu::media::sync(&state, runtime.as_ref(), &peers);
                let mut engine = lock();
                for key in &gone {
                    engine.drop_peer(key);
                }
            }
        }
        if now >= next {
            // (The engine drops a peer that makes str0m panic; this is the last resort.)
            let drove = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                lock().drive(now, &mut out)
            }));
            next = drove.unwrap_or(now + LONGEST_WAIT).min(now + LONGEST_WAIT);
            driven = now;
            for transmit in out.drain(..) {
                let _ = socket.send_to(&transmit.contents, transmit.destination);
            }
        }
        let wait = next
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        if socket.set_read_timeout(Some(wait)).is_err() {
            return;
        }
        match socket.recv_from(&mut buf) {
            Ok((length, source)) if !loopback_only || source.ip().is_loopback() => {
                let datagram = &buf[..length];
                let taken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    lock().receive(source, datagram, Instant::now())
                }));
                if taken.unwrap_or(false) {
                    next = next.min(driven + LEAST_DRIVE_GAP);
                }
            }
            // From off this machine, a datagram too large, an ICMP error from a peer gone,
            // the wait over: the next.
            _ => {}
        }
    }
}
