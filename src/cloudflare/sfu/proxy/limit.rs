//! The per-caller limit, with tower-governor: a burst, then a steady rate, per peer address
//! (an IPv6 address by its /64, which one host holds whole), or without one, per session named.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use governor::middleware::NoOpMiddleware;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::GovernorError;

use crate::Error;

/// Who a request comes from, as the limit tells callers apart.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Caller {
    /// A peer address (IPv6: its /64).
    Address(IpAddr),
    /// No peer address known: the session the path names (at most 128 bytes kept).
    Session(String),
    /// Neither.
    Unknown,
}

/// Tells callers apart.
#[derive(Clone, Copy, Debug)]
pub(super) struct CallerKey;

impl KeyExtractor for CallerKey {
    type Key = Caller;

    fn extract<T>(&self, request: &Request<T>) -> Result<Caller, GovernorError> {
        if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
            return Ok(Caller::Address(network_of(peer.ip())));
        }
        let path = request.uri().path();
        let session = path
            .split_once("sessions/")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
            .filter(|named| !named.is_empty() && *named != "new");
        Ok(match session {
            Some(named) => Caller::Session(named.chars().take(128).collect()),
            None => Caller::Unknown,
        })
    }
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

/// The limit's configuration, shared by the router's layer and the task that forgets callers.
pub(super) struct PerCaller {
    pub(super) config: Arc<GovernorConfig<CallerKey, NoOpMiddleware>>,
}

impl PerCaller {
    /// `burst` requests at once, then one per `every`.
    pub(super) fn new(burst: u32, every: Duration) -> Result<Self, Error> {
        let config = GovernorConfigBuilder::default()
            .key_extractor(CallerKey)
            .period(every)
            .burst_size(burst)
            .finish()
            .ok_or_else(|| {
                Error::Config("a per-caller limit needs a burst and a period above zero".into())
            })?;
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// Forgets callers whose allowance is whole again, every minute, for as long as the
    /// configuration lives: the limiter's memory is bounded by the callers of the last minutes.
    pub(super) fn forget_idle_callers(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let config: Weak<_> = Arc::downgrade(&self.config);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                let Some(config) = config.upgrade() else {
                    return;
                };
                config.limiter().retain_recent();
                config.limiter().shrink_to_fit();
            }
        });
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
}
