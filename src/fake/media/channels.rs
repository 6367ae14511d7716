//! Data channels through the SFU, as Cloudflare's are: a session's SCTP transport (its
//! `establish`), then channels negotiated out of band by ID: one a session publishes by name,
//! one per subscriber of it. What a publisher sends on its channel goes to every subscriber's.

use std::collections::HashMap;

use str0m::channel::{ChannelConfig, ChannelId};

use super::engine::{Engine, Key};

/// Where channel messages go.
#[derive(Default)]
pub(crate) struct Channels {
    /// What each session publishes: (publisher, name) → its channel.
    published: HashMap<(Key, String), ChannelId>,
    /// Who subscribes to each: (publisher, name) → subscribers' (session, channel).
    subscribers: HashMap<(Key, String), Vec<(Key, ChannelId)>>,
}

/// The most bytes one message may hold to be forwarded (a browser's default maximum).
const MAX_MESSAGE: usize = 64 * 1024;

impl Channels {
    /// The channel `key` publishes as `name`, now `id`.
    fn publish(&mut self, key: &Key, name: &str, id: ChannelId) {
        self.published.insert((key.clone(), name.to_string()), id);
    }

    fn subscribe(&mut self, from: &Key, name: &str, to: &Key, id: ChannelId) {
        let targets = self.subscribers.entry((from.clone(), name.to_string()));
        let targets = targets.or_default();
        if !targets.iter().any(|(t, c)| t == to && *c == id) {
            targets.push((to.clone(), id));
        }
    }

    /// How many subscriptions it keeps.
    #[cfg(test)]
    pub(crate) fn subscriptions(&self) -> usize {
        self.subscribers.values().map(Vec::len).sum()
    }

    /// Where a message `key` sent on `id` goes, if `id` is a channel it publishes.
    pub(crate) fn targets(&self, key: &Key, id: ChannelId) -> Vec<(Key, ChannelId)> {
        let name = self
            .published
            .iter()
            .find(|((from, _), channel)| from == key && **channel == id)
            .map(|((_, name), _)| name.clone());
        name.and_then(|name| self.subscribers.get(&(key.clone(), name)).cloned())
            .unwrap_or_default()
    }

    /// Forgets everything of `key`.
    pub(crate) fn forget(&mut self, key: &Key) {
        self.published.retain(|(from, _), _| from != key);
        self.subscribers.retain(|(from, _), _| from != key);
        for targets in self.subscribers.values_mut() {
            targets.retain(|(to, _)| to != key);
        }
        self.subscribers.retain(|_, targets| !targets.is_empty());
    }

    /// Forgets `key`'s channel `id` (closed).
    pub(crate) fn close(&mut self, key: &Key, id: ChannelId) {
        self.published
            .retain(|(from, _), channel| !(from == key && *channel == id));
        for targets in self.subscribers.values_mut() {
            targets.retain(|(to, channel)| !(to == key && *channel == id));
        }
        self.subscribers.retain(|_, targets| !targets.is_empty());
    }
}

/// A channel of a session as the API allocated it.
pub(crate) struct Allocated<'a> {
    /// Its ID on the session (the SCTP stream both ends use).
    pub(crate) id: u16,
    pub(crate) name: &'a str,
    /// For a subscription: the publisher's session.
    pub(crate) from: Option<&'a Key>,
    pub(crate) ordered: bool,
}

impl Engine {
    /// `establish` for `key`: the SFU offers its SCTP transport (with the channel named, by
    /// `id`), or answers the endpoint's offer of it.
    pub(crate) fn establish(
        &mut self,
        key: &Key,
        channel: &Allocated<'_>,
        offer: Option<&str>,
    ) -> Result<(String, bool), String> {
        if let Some(offer) = offer {
            let answer = self.answer_offer(key, offer, &[])?;
            self.open_channel(key, channel)?;
            return Ok((answer, false));
        }
        let config = config_of(channel);
        let mut opened = None;
        let offer = self.offer_with(key, |changes| {
            opened = Some(changes.add_channel_with_config(config));
        })?;
        // The channel the SFU offered is the one it keeps for this name.
        if let (Some(id), None) = (opened, channel.from) {
            self.channels.publish(key, channel.name, id);
        }
        Ok((offer, true))
    }

    /// Opens the channel the API allocated for `key`: published, or subscribed to its
    /// publisher's.
    pub(crate) fn open_channel(
        &mut self,
        key: &Key,
        channel: &Allocated<'_>,
    ) -> Result<(), String> {
        // A stream already open is the channel (str0m would refuse a second one on it).
        let id = self.with_peer(key, |rtc| {
            let open = rtc.direct_api().channel_id_by_sctp_stream_id(channel.id);
            open.unwrap_or_else(|| rtc.direct_api().create_data_channel(config_of(channel)))
        })?;
        match channel.from {
            None => self.channels.publish(key, channel.name, id),
            Some(from) => self.channels.subscribe(from, channel.name, key, id),
        }
        Ok(())
    }

    /// Closes `key`'s channel `id`.
    pub(crate) fn close_channel(&mut self, key: &Key, id: u16) {
        let Some(rtc) = self.rtc(key) else {
            return;
        };
        let channel = rtc_channel_of(rtc, id);
        if let Some(channel) = channel {
            rtc.direct_api().close_data_channel(channel);
            self.channels.close(key, channel);
        }
    }

    /// `data` from `key`'s channel `id` to every subscriber's.
    pub(crate) fn relay_message(&mut self, key: &Key, id: ChannelId, binary: bool, data: &[u8]) {
        if data.len() > MAX_MESSAGE {
            return;
        }
        let now = std::time::Instant::now();
        for (to, channel) in self.channels.targets(key, id) {
            self.give(&to, data.len(), now, |rtc| {
                if let Some(mut channel) = rtc.channel(channel) {
                    let _ = channel.write(binary, data);
                }
            });
        }
    }
}

/// A negotiated channel's configuration.
fn config_of(channel: &Allocated<'_>) -> ChannelConfig {
    ChannelConfig {
        label: channel.name.to_string(),
        ordered: channel.ordered,
        negotiated: Some(channel.id),
        ..ChannelConfig::default()
    }
}

/// The channel of `rtc` on SCTP stream `id`, if it has one.
fn rtc_channel_of(rtc: &mut str0m::Rtc, id: u16) -> Option<ChannelId> {
    rtc.direct_api().channel_id_by_sctp_stream_id(id)
}
