//! The per-caller limit, with governor: a burst, then a steady rate, per caller. A caller is
//! its address (an IPv6 one by its /64, which one host holds whole): the peer's, or behind
//! trusted reverse proxies the one they forwarded. Without an address, the session a request
//! proved it owns; the rest share one allowance.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::{Error, SessionId};

/// Who a request comes from, as the limit tells callers apart.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Caller {
    /// An address (IPv6: its /64).
    Address(IpAddr),
    /// No address known: the session the request proved it owns.
    Session(SessionId),
    /// Neither: one allowance for them all.
    Unknown,
}

/// Every this many checks, callers whose allowance is whole again are forgotten.
const SWEEP_EVERY: u64 = 4096;

/// The limit.
pub(super) struct PerCaller {
    limiter: DefaultKeyedRateLimiter<Caller>,
    clock: DefaultClock,
    checks: AtomicU64,
    /// How many reverse proxies in front add to `X-Forwarded-For` (0: the peer is the caller).
    hops: usize,
}

impl PerCaller {
    /// `burst` requests at once, then one per `every`; the caller `hops` reverse proxies back.
    pub(super) fn new(burst: u32, every: Duration, hops: usize) -> Result<Self, Error> {
        let burst = NonZeroU32::new(burst);
        let quota = Quota::with_period(every).zip(burst).ok_or_else(|| {
            Error::Config("a per-caller limit needs a burst and a period above zero".into())
        })?;
        let (quota, burst) = quota;
        Ok(Self {
            limiter: DefaultKeyedRateLimiter::keyed(quota.allow_burst(burst)),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
            hops,
        })
    }

    /// The caller of a request: its address, else the session it proved it owns.
    pub(super) fn caller(
        &self,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
        owner: Option<&SessionId>,
    ) -> Caller {
        let address = match (self.hops, peer) {
            (0, peer) => peer.map(|p| p.ip()),
            (hops, peer) => forwarded(headers, hops).or(peer.map(|p| p.ip())),
        };
        match (address, owner) {
            (Some(ip), _) => Caller::Address(network_of(ip)),
            (None, Some(session)) => Caller::Session(session.clone()),
            (None, None) => Caller::Unknown,
        }
    }

    /// Whether `caller` may send another request; if not, how long until it may.
    pub(super) fn check(&self, caller: &Caller) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(caller)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// How many callers it remembers.
    #[cfg(test)]
    pub(super) fn remembered(&self) -> usize {
        self.limiter.len()
    }
}

/// The address `hops` entries from the right of `X-Forwarded-For` (each trusted reverse proxy
/// appends the address it got the request from), if it is one.
fn forwarded(headers: &HeaderMap, hops: usize) -> Option<IpAddr> {
    let mut entries: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        entries.extend(value.to_str().ok()?.split(','));
    }
    let entry = entries.iter().rev().nth(hops.checked_sub(1)?)?;
    entry.trim().parse().ok()
}

/// An address as the limit keys it: IPv4 whole, IPv6 by its /64 (a host is given a /64, and
/// could otherwise take a fresh key per request).
fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_host_is_one_caller_and_an_ipv4_one_is_itself() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network_of(a), network_of(b));
        assert_ne!(network_of(a), network_of(other));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(network_of(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(network_of(mapped), v4);
    }

    /// Behind one trusted proxy the caller is the rightmost forwarded address, whatever the
    /// browser wrote to the left of it; with none trusted, the peer; without either, the
    /// session it owns, and nobody can spend another's allowance by naming its session.
    #[test]
    fn the_caller_is_who_sent_it_not_who_it_says() {
        let peer: SocketAddr = "10.0.0.1:443".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let behind = PerCaller::new(1, Duration::from_secs(1), 1).unwrap();
        let direct = PerCaller::new(1, Duration::from_secs(1), 0).unwrap();
        let ip = |text: &str| Caller::Address(text.parse().unwrap());
        assert_eq!(
            behind.caller(Some(peer), &headers, None),
            ip("198.51.100.7")
        );
        assert_eq!(direct.caller(Some(peer), &headers, None), ip("10.0.0.1"));
        let session = SessionId::new("s1");
        assert_eq!(
            direct.caller(None, &HeaderMap::new(), Some(&session)),
            Caller::Session(session)
        );
        assert_eq!(
            direct.caller(None, &HeaderMap::new(), None),
            Caller::Unknown
        );
        // One allowance each: the second request of a caller waits, another's does not.
        assert!(direct.check(&ip("192.0.2.1")).is_ok());
        assert!(direct.check(&ip("192.0.2.1")).is_err());
        assert!(direct.check(&ip("192.0.2.2")).is_ok());
    }

    /// Callers whose allowance is whole again are forgotten: memory follows recent callers.
    #[test]
    fn idle_callers_are_forgotten() {
        let limit = PerCaller::new(5, Duration::from_nanos(1), 0).unwrap();
        for n in 0..SWEEP_EVERY * 2 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(n as u32));
            limit.check(&Caller::Address(ip)).unwrap();
        }
        assert!(
            limit.remembered() < SWEEP_EVERY as usize,
            "{}",
            limit.remembered()
        );
    }
}
