//! What the fake remembers: apps, keys and issued tokens, and the SFU's sessions ([`sfu`]),
//! every collection bounded so that no sequence of requests can make the fake grow without
//! limit.

pub(crate) mod sfu;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use tokio::time::Instant;

/// The most items of one kind (Calls apps, Magic apps, Hover apps, TURN keys) the fake keeps,
/// across all accounts.
pub(crate) const MAX_ITEMS: usize = 2_000;
/// The most one stored item may hold, about as its JSON: a limit of the fake (the real APIs
/// document none), so that no list or `GET /__fake/state` answer grows large.
pub(crate) const MAX_ITEM_BYTES: usize = 8 * 1024;
/// The most all stored items may hold together, about as their JSON: the largest a list or
/// `GET /__fake/state` answer can be.
pub(crate) const MAX_STORE_BYTES: usize = 8 * 1024 * 1024;

/// About how many bytes an item takes as JSON (its text and a fixed allowance for the rest).
pub(crate) trait Weight {
    fn weight(&self) -> usize;
}

/// Why the store does not take an item.
pub(crate) enum Refused {
    /// The item is over [`MAX_ITEM_BYTES`].
    TooLarge,
    /// The store would pass [`MAX_STORE_BYTES`] or [`MAX_ITEMS`].
    Full,
}

impl Refused {
    /// What the fake says about it.
    pub(crate) fn message(&self) -> String {
        match self {
            Refused::TooLarge => format!(
                "the item is larger than the fake keeps ({MAX_ITEM_BYTES} bytes per item; a \
                 limit of the fake, not of the API)"
            ),
            Refused::Full => format!(
                "the fake server holds at most {MAX_ITEMS} items of a kind and {MAX_STORE_BYTES} \
                 bytes in all; POST /__fake/reset empties it"
            ),
        }
    }
}

/// How many bytes `texts` take as JSON strings, escapes included (serde_json writes a control
/// character as `\u00XX`, six bytes for one), with a comma each.
fn text_weight<'a>(texts: impl IntoIterator<Item = &'a String>) -> usize {
    texts
        .into_iter()
        .map(|text| {
            let escaped: usize = text
                .chars()
                .map(|c| match c {
                    '"' | '\\' => 2,
                    '\u{0}'..='\u{1f}' => 6,
                    c => c.len_utf8(),
                })
                .sum();
            escaped + 3
        })
        .sum()
}

/// A collection of stored items that keeps the total of their weights as items come, change
/// and go (so that admitting an item costs nothing however full the store is).
pub(crate) struct Table<K, V> {
    items: BTreeMap<K, V>,
    weight: usize,
}

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Self {
            items: BTreeMap::new(),
            weight: 0,
        }
    }
}

impl<K: Ord, V: Weight> Table<K, V> {
    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.items.get(key)
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn iter(&self) -> std::collections::btree_map::Iter<'_, K, V> {
        self.items.iter()
    }

    pub(crate) fn keys(&self) -> std::collections::btree_map::Keys<'_, K, V> {
        self.items.keys()
    }

    /// Stores `value` under `key`, in place of what was there.
    pub(crate) fn put(&mut self, key: K, value: V) {
        self.weight += value.weight();
        if let Some(old) = self.items.insert(key, value) {
            self.weight -= old.weight();
        }
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let removed = self.items.remove(key)?;
        self.weight -= removed.weight();
        Some(removed)
    }

    /// Changes the item under `key` in place (its weight counted again after).
    pub(crate) fn update<R>(&mut self, key: &K, change: impl FnOnce(&mut V) -> R) -> Option<R> {
        let item = self.items.get_mut(key)?;
        self.weight -= item.weight();
        let result = change(item);
        self.weight += item.weight();
        Some(result)
    }
}

impl<'a, K, V> IntoIterator for &'a Table<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::collections::btree_map::Iter<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}
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
    pub(crate) calls: Table<(String, String), NamedRecord>,
    /// (account, account_app_id) → app.
    pub(crate) magic: Table<(String, String), MagicRecord>,
    /// (account, site, id) → site app config.
    pub(crate) app_configs: Table<(String, String, String), AppConfigRecord>,
    /// (account, uid) → TURN key.
    pub(crate) turn_keys: Table<(String, String), NamedRecord>,
    /// TURN credentials minted, oldest first.
    pub(crate) turn_credentials: VecDeque<TurnCredential>,
    /// id → app.
    pub(crate) hover: Table<i64, HoverRecord>,
    pub(crate) next_hover_id: i64,
    pub(crate) hover_tokens: HoverTokens,
    /// The Realtime SFU's sessions and adapters.
    pub(crate) sfu: sfu::Sfu,
}

impl Store {
    pub(crate) fn new() -> Self {
        Self {
            next_hover_id: 43120,
            ..Self::default()
        }
    }

    /// The weight of everything stored.
    pub(crate) fn weight(&self) -> usize {
        self.calls.weight
            + self.magic.weight
            + self.app_configs.weight
            + self.turn_keys.weight
            + self.hover.weight
            + self.sfu.weight()
    }

    /// Whether an item of weight `new` may be stored in a collection of `count` items, in place
    /// of one of weight `replacing` (0 for a new item).
    pub(crate) fn admit(&self, new: usize, replacing: usize, count: usize) -> Result<(), Refused> {
        if new > MAX_ITEM_BYTES {
            return Err(Refused::TooLarge);
        }
        let full = (replacing == 0 && count >= MAX_ITEMS)
            || self.weight() - replacing.min(self.weight()) + new > MAX_STORE_BYTES;
        if full {
            return Err(Refused::Full);
        }
        Ok(())
    }

    /// Forgets every app and key, SFU session and adapter (not the tokens issued: clients stay
    /// logged in).
    pub(crate) fn reset(&mut self) {
        let tokens = std::mem::take(&mut self.hover_tokens);
        *self = Self::new();
        self.hover_tokens = tokens;
    }
}

/// A Calls app or a TURN key.
#[derive(Clone)]
pub(crate) struct NamedRecord {
    pub(crate) name: String,
    pub(crate) created: DateTime<Utc>,
    pub(crate) modified: DateTime<Utc>,
    /// The secret shown only on create, kept because it is a bearer: a TURN key's token for the
    /// credentials API, a Calls app's secret for the SFU data plane.
    pub(crate) token: Option<crate::Secret>,
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
            .and_then(|(_, record)| record.token.as_ref())
    }

    /// The secret of the Calls app with this ID, in whichever account it is.
    pub(crate) fn calls_app_secret(&self, app_id: &str) -> Option<&crate::Secret> {
        self.calls
            .iter()
            .find(|((_, uid), _)| uid == app_id)
            .and_then(|(_, record)| record.token.as_ref())
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

impl Weight for NamedRecord {
    fn weight(&self) -> usize {
        text_weight([&self.name]) + 128 + self.token.as_ref().map_or(0, |_| 64)
    }
}

impl Weight for MagicRecord {
    fn weight(&self) -> usize {
        let lists = [&self.hostnames, &self.ip_subnets, &self.source_subnets];
        text_weight([&self.name, &self.app_type])
            + lists.into_iter().flatten().map(text_weight).sum::<usize>()
            + 160
    }
}

impl Weight for HoverRecord {
    fn weight(&self) -> usize {
        text_weight(
            [&self.name, &self.package_name, &self.token]
                .into_iter()
                .chain(&self.webhook_url)
                .chain(&self.webhook_secret),
        ) + 512
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

/// A site app config: exactly one of the two app IDs.
#[derive(Clone)]
pub(crate) struct AppConfigRecord {
    pub(crate) account_app_id: Option<String>,
    pub(crate) managed_app_id: Option<String>,
    pub(crate) breakout: Option<bool>,
    pub(crate) priority: Option<i64>,
    pub(crate) preferred_wans: Option<Vec<String>>,
}

impl Weight for AppConfigRecord {
    fn weight(&self) -> usize {
        let ids = self.account_app_id.iter().chain(&self.managed_app_id);
        text_weight(ids) + self.preferred_wans.as_ref().map_or(0, text_weight) + 160
    }
}

#[derive(Clone)]
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
