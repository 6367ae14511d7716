//! Each operation called through the facade by one function: its driver, listed by the
//! provider's contract test module (`drivers()`) beside the operation's contract tests. The
//! property tests run every driver against arbitrary answers and IDs; the spec check runs them
//! against the fake and validates what was sent.
// Without either, nothing runs the drivers.
#![cfg_attr(not(any(feature = "test-util", feature = "fake")), allow(dead_code))]

use std::future::Future;
use std::pin::Pin;

use apps_api::cloudflare::sfu::RealtimeClient;
use apps_api::cloudflare::turn::TurnCredentials;
use apps_api::cloudflare::CloudflareClient;
use apps_api::hover::HoverClient;
use apps_api::operations::Operation;

/// The IDs a driver passes, by the name of the path parameter that takes them
/// (`ids["account_id"]`).
#[derive(Clone, Debug, Default)]
pub struct Ids(pub std::collections::BTreeMap<&'static str, String>);

impl std::ops::Index<&str> for Ids {
    type Output = str;

    fn index(&self, parameter: &str) -> &str {
        self.0
            .get(parameter)
            .unwrap_or_else(|| panic!("no ID for {{{parameter}}}"))
    }
}

/// An operation's request in flight, ending in `Ok(())` or its error.
pub type Run<'a> = Pin<Box<dyn Future<Output = Result<(), apps_api::Error>> + 'a>>;

/// How the tests call one operation through the facade.
pub struct Driver {
    pub op: &'static Operation,
    pub run: for<'a> fn(&'a Handles, &'a Ids) -> Run<'a>,
}

/// A [`Driver`]: `drive!(OPERATION, |handles, ids| facade call)`, the call's value dropped.
macro_rules! drive {
    ($op:ident, |$h:ident, $ids:ident| $call:expr) => {
        $crate::drivers::Driver {
            op: &apps_api::operations::$op,
            run: |$h, $ids| Box::pin(async move { $call.await.map(drop) }),
        }
    };
}
pub(crate) use drive;

/// Every operation's driver.
pub fn all() -> Vec<Driver> {
    [
        crate::calls::drivers(),
        crate::turn::drivers(),
        crate::sfu::drivers(),
        crate::magic::drivers(),
        crate::magic_sites::drivers(),
        crate::hover::drivers(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A TURN credentials client for a key ID.
pub type TurnFor = Box<dyn Fn(&str) -> Result<TurnCredentials, apps_api::Error>>;

/// A Realtime SFU client for a Calls app ID.
pub type SfuFor = Box<dyn Fn(&str) -> Result<RealtimeClient, apps_api::Error>>;

/// The clients drivers call.
pub struct Handles {
    pub cf: CloudflareClient,
    /// Holds a token.
    pub hover: HoverClient,
    /// Logs in with an email and password.
    pub hover_login: HoverClient,
    turn_for: TurnFor,
    sfu_for: SfuFor,
}

impl Handles {
    pub fn new(
        cf: CloudflareClient,
        hover: HoverClient,
        hover_login: HoverClient,
        turn_for: TurnFor,
        sfu_for: SfuFor,
    ) -> Self {
        Handles {
            cf,
            hover,
            hover_login,
            turn_for,
            sfu_for,
        }
    }

    /// A TURN credentials client for `key` (an invalid key ID is refused when it is built).
    pub fn turn(&self, key: &str) -> Result<TurnCredentials, apps_api::Error> {
        (self.turn_for)(key)
    }

    /// A Realtime SFU client for app `app` (an invalid app ID is refused when it is built).
    pub fn sfu(&self, app: &str) -> Result<RealtimeClient, apps_api::Error> {
        (self.sfu_for)(app)
    }
}
