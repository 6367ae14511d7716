//! The rate-limit headers of an answer (`Ratelimit: "default";r=50;t=30` and
//! `Ratelimit-Policy: "default";q=1200;w=300`, structured fields, RFC 9651), read strictly: a
//! value that does not parse, or whose numbers are out of range, is ignored, never trusted.
//!
//! Read with sfv's visitors, which build nothing: every Cloudflare answer carries both headers.

use std::borrow::Cow;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName};
use sfv::visitor::ParameterVisitor;
use sfv::visitor::{EntryVisitor, Ignored, InnerListVisitor, ItemVisitor, ListVisitor};
use sfv::{BareItemFromInput, KeyRef, Parser};

use super::Quota;

const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The longest window or reset a server is believed about: a day.
const LONGEST: u64 = 24 * 60 * 60;

/// What an answer said about its credential's budget.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Reported {
    /// Requests left in the window (`r`) and the time until the window resets (`t`).
    pub(crate) remaining: Option<(u32, Duration)>,
    /// The quota of that limit (`q` per `w`).
    pub(crate) policy: Option<Quota>,
}

/// The limits an answer's headers report, the tightest one (fewest requests left) and, if
/// `with_policy`, its policy; `None` when `Ratelimit` says nothing usable.
pub(crate) fn reported(headers: &HeaderMap, with_policy: bool) -> Option<Reported> {
    let limits = field(headers, &RATELIMIT)?;
    let limit = choose(&limits, ("r", "t"), Choose::Fewest)??;
    let remaining = u32::try_from(limit.count).ok()?;
    let policies = with_policy
        .then(|| field(headers, &RATELIMIT_POLICY))
        .flatten();
    let policy = policies
        .as_deref()
        .and_then(|input| choose(input, ("q", "w"), Choose::Named(&limit.name)))
        .flatten()
        .and_then(|policy| {
            let requests = u32::try_from(policy.count).ok().filter(|q| *q > 0)?;
            let window = Duration::from_secs(policy.seconds);
            (!window.is_zero()).then(|| Quota::new(requests, window))
        });
    Some(Reported {
        remaining: Some((remaining, Duration::from_secs(limit.seconds))),
        policy,
    })
}

/// A field's value; `None` if the answer has no such field. A field sent on several lines is
/// one list, its lines joined by commas (RFC 9651 §4.2).
fn field<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<Cow<'h, [u8]>> {
    let mut lines = headers.get_all(name).iter();
    let first = lines.next()?;
    let Some(second) = lines.next() else {
        return Some(Cow::Borrowed(first.as_bytes()));
    };
    let mut joined = first.as_bytes().to_vec();
    for line in std::iter::once(second).chain(lines) {
        joined.extend_from_slice(b", ");
        joined.extend_from_slice(line.as_bytes());
    }
    Some(Cow::Owned(joined))
}

/// The item of a `Ratelimit`-style list that `choice` picks, `None` if there is none; or
/// `None` outright if the list does not parse or an item is not a name with both parameters,
/// a count and a number of seconds up to a day.
fn choose<'de>(
    input: &'de [u8],
    keys: (&'static str, &'static str),
    choice: Choose<'_>,
) -> Option<Option<Limit<'de>>> {
    let items = Items {
        keys,
        choice,
        chosen: None,
    };
    Parser::new(input).parse_list_with_visitor(items).ok()
}

/// One item of the list: its name and its two parameters.
#[derive(Clone, Debug)]
struct Limit<'de> {
    name: Cow<'de, str>,
    count: u64,
    seconds: u64,
}

/// Which item a list's reading keeps.
#[derive(Clone, Copy)]
enum Choose<'a> {
    /// The one with the lowest count.
    Fewest,
    /// The (last) one with this name.
    Named(&'a str),
}

/// A list that is not what these headers hold.
#[derive(Debug)]
struct Invalid;

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a rate-limit list")
    }
}

impl std::error::Error for Invalid {}

struct Items<'de, 'a> {
    keys: (&'static str, &'static str),
    choice: Choose<'a>,
    chosen: Option<Limit<'de>>,
}

impl<'de> ListVisitor<'de> for Items<'de, '_> {
    type Out = Option<Limit<'de>>;
    type Error = Invalid;

    fn entry(&mut self) -> Result<impl EntryVisitor<'de>, Invalid> {
        Ok(self)
    }

    fn finish(self) -> Result<Self::Out, Invalid> {
        Ok(self.chosen)
    }
}

impl<'de> EntryVisitor<'de> for &mut Items<'de, '_> {
    type Error = Invalid;

    fn item(self) -> Result<impl ItemVisitor<'de>, Invalid> {
        Ok(self)
    }

    fn inner_list(self) -> Result<impl InnerListVisitor<'de>, Invalid> {
        Err::<Ignored, _>(Invalid)
    }
}

impl<'a, 'de, 'b> ItemVisitor<'de> for &'a mut Items<'de, 'b> {
    type Out = ();
    type Error = Invalid;

    fn bare_item(
        self,
        item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de, Out = ()>, Invalid> {
        let name = match item {
            BareItemFromInput::String(Cow::Borrowed(s)) => Cow::Borrowed(s.as_str()),
            BareItemFromInput::String(Cow::Owned(s)) => Cow::Owned(s.as_str().to_owned()),
            BareItemFromInput::Token(t) => Cow::Borrowed(t.as_str()),
            _ => return Err(Invalid),
        };
        Ok(Parameters {
            items: self,
            name,
            count: None,
            seconds: None,
        })
    }
}

struct Parameters<'a, 'de, 'b> {
    items: &'a mut Items<'de, 'b>,
    name: Cow<'de, str>,
    // Each the last value given (RFC 9651: a repeated parameter's earlier values are ignored),
    // `Some(None)` when that value is not a whole number of at least zero.
    count: Option<Option<u64>>,
    seconds: Option<Option<u64>>,
}

impl<'de> ParameterVisitor<'de> for Parameters<'_, 'de, '_> {
    type Out = ();
    type Error = Invalid;

    fn parameter(
        &mut self,
        key: &'de KeyRef,
        value: BareItemFromInput<'de>,
    ) -> Result<(), Invalid> {
        let number = value
            .as_integer()
            .and_then(|n| u64::try_from(i64::from(n)).ok());
        if key.as_str() == self.items.keys.0 {
            self.count = Some(number);
        } else if key.as_str() == self.items.keys.1 {
            self.seconds = Some(number);
        }
        Ok(())
    }

    fn finish(self) -> Result<(), Invalid> {
        let (Some(Some(count)), Some(Some(seconds))) = (self.count, self.seconds) else {
            return Err(Invalid);
        };
        if seconds > LONGEST {
            return Err(Invalid);
        }
        let limit = Limit {
            name: self.name,
            count,
            seconds,
        };
        let items = self.items;
        let keep = match items.choice {
            Choose::Fewest => items.chosen.as_ref().is_none_or(|c| limit.count < c.count),
            Choose::Named(name) => limit.name == name,
        };
        if keep {
            items.chosen = Some(limit);
        }
        Ok(())
    }
}
