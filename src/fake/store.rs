//! What the fake remembers: apps, keys and issued tokens, every collection bounded so that no
//! sequence of requests can make the fake grow without limit.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use tokio::time::Instant;

/// The most items of one kind (Calls apps, Magic apps, Hover apps, TURN keys) the fake keeps,
/// across all accounts. With request bodies of at most [`super::router::BODY_LIMIT`], this
/// bounds what the store can hold.
pub(crate) const MAX_ITEMS: usize = 2_000;
/// The most Hover tokens kept at once; past it, expired tokens go first, then the oldest.
pub(crate) const MAX_HOVER_TOKENS: usize = 1_000;
/// The most TURN credentials remembered (for revocation); past it, the oldest are forgotten.
pub(crate) const MAX_TURN_CREDENTIALS: usize = 10_000;

/// Now, in whole seconds, as the services write their timestamps.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// Random lowercase hex of `chars` characters (IDs, tokens; not for real secrets).
pub(crate) fn hex(chars: usize) -> String {
    let mut out = String::with_capacity(chars + 32);
    while out.len() < chars {
        out.push_str(&format!("{:032x}", fastrand::u128(..)));
    }
    out.truncate(chars);
    out
}

/// Everything the fake remembers.
#[derive(Default)]
pub(crate) struct Store {
    /// (account, uid) → app.
    pub(crate) calls: BTreeMap<(String, String), CallsRecord>,
    /// (account, account_app_id) → app.
    pub(crate) magic: BTreeMap<(String, String), MagicRecord>,
    /// (account, uid) → TURN key.
    pub(crate) turn_keys: BTreeMap<(String, String), TurnKeyRecord>,
    /// TURN credentials minted, oldest first.
    pub(crate) turn_credentials: VecDeque<TurnCredential>,
    /// id → app.
    pub(crate) hover: BTreeMap<i64, HoverRecord>,
    pub(crate) next_hover_id: i64,
    pub(crate) hover_tokens: HoverTokens,
}

impl Store {
    pub(crate) fn new() -> Self {
        Self {
            next_hover_id: 43120,
            ..Self::default()
        }
    }

    /// Forgets every app and key (not the tokens issued: clients stay logged in).
    pub(crate) fn reset(&mut self) {
        let tokens = std::mem::take(&mut self.hover_tokens);
        *self = Self::new();
        self.hover_tokens = tokens;
    }
}

pub(crate) struct CallsRecord {
    pub(crate) name: String,
    pub(crate) created: DateTime<Utc>,
    pub(crate) modified: DateTime<Utc>,
}

pub(crate) struct TurnKeyRecord {
    pub(crate) name: String,
    pub(crate) created: DateTime<Utc>,
    pub(crate) modified: DateTime<Utc>,
    /// The key's bearer token for the credentials API (shown only on create).
    pub(crate) key: crate::Secret,
}

pub(crate) struct TurnCredential {
    pub(crate) key_id: String,
    pub(crate) username: String,
    pub(crate) revoked: bool,
}

impl Store {
    /// The TURN key with this ID, in whichever account it is, and its token.
    pub(crate) fn turn_key_token(&self, key_id: &str) -> Option<&crate::Secret> {
        self.turn_keys
            .iter()
            .find(|((_, uid), _)| uid == key_id)
            .map(|(_, record)| &record.key)
    }

    /// Remembers a minted credential, forgetting the oldest past the limit.
    pub(crate) fn remember_credential(&mut self, key_id: &str, username: &str) {
        if self.turn_credentials.len() == MAX_TURN_CREDENTIALS {
            self.turn_credentials.pop_front();
        }
        self.turn_credentials.push_back(TurnCredential {
            key_id: key_id.to_string(),
            username: username.to_string(),
            revoked: false,
        });
    }
}

#[derive(Clone)]
pub(crate) struct MagicRecord {
    pub(crate) name: String,
    pub(crate) app_type: String,
    pub(crate) hostnames: Option<Vec<String>>,
    pub(crate) ip_subnets: Option<Vec<String>>,
    pub(crate) source_subnets: Option<Vec<String>>,
}

pub(crate) struct HoverRecord {
    pub(crate) name: String,
    pub(crate) package_name: String,
    pub(crate) token: String,
    pub(crate) webhook_url: Option<String>,
    pub(crate) webhook_secret: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) archived_at: Option<DateTime<Utc>>,
}

/// What a Hover token is worth.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    Valid,
    Expired,
    Unknown,
}

/// The JWTs the fake issued, with their expiry, at most [`MAX_HOVER_TOKENS`].
#[derive(Default)]
pub(crate) struct HoverTokens {
    expiry: HashMap<String, Instant>,
    /// Issue order, to drop the oldest.
    order: VecDeque<String>,
}

impl HoverTokens {
    /// Remembers a new token valid for `ttl`, making room first if needed.
    pub(crate) fn issue(&mut self, token: String, ttl: Duration) {
        if self.expiry.len() >= MAX_HOVER_TOKENS {
            let now = Instant::now();
            self.expiry.retain(|_, expires| *expires > now);
            self.order.retain(|t| self.expiry.contains_key(t));
        }
        while self.expiry.len() >= MAX_HOVER_TOKENS {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.expiry.remove(&oldest);
                }
                None => break,
            }
        }
        let expires = Instant::now()
            .checked_add(ttl)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(10 * 365 * 24 * 3600));
        self.expiry.insert(token.clone(), expires);
        self.order.push_back(token);
    }

    pub(crate) fn check(&self, token: &str) -> TokenCheck {
        match self.expiry.get(token) {
            Some(expires) if *expires > Instant::now() => TokenCheck::Valid,
            Some(_) => TokenCheck::Expired,
            None => TokenCheck::Unknown,
        }
    }

    /// Makes every token issued so far expired (they stay known, so they answer "expired").
    pub(crate) fn expire_all(&mut self) {
        let now = Instant::now();
        for expires in self.expiry.values_mut() {
            *expires = now;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.expiry.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_set_is_bounded_and_drops_the_oldest() {
        let mut tokens = HoverTokens::default();
        for i in 0..MAX_HOVER_TOKENS + 50 {
            tokens.issue(format!("t{i}"), Duration::from_secs(3600));
        }
        assert_eq!(tokens.len(), MAX_HOVER_TOKENS);
        assert_eq!(tokens.check("t0"), TokenCheck::Unknown);
        assert_eq!(
            tokens.check(&format!("t{}", MAX_HOVER_TOKENS + 49)),
            TokenCheck::Valid
        );
        tokens.expire_all();
        assert_eq!(tokens.check("t60"), TokenCheck::Expired);
    }

    #[test]
    fn timestamps_are_whole_seconds() {
        assert_eq!(now().timestamp_subsec_nanos(), 0);
        assert!(serde_json::to_string(&now()).unwrap().ends_with("Z\""));
    }
}
