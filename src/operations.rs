//! Every operation of the APIs this build has, as `build.rs` reads them from the specs in
//! `spec/`: its operationId, method and path template, where it is served, the credential it
//! takes, the shape of its answers and when it may be sent again. The facade names operations
//! by these constants, so an operation the specs do not have does not compile; errors, logs,
//! [`ResponseInfo`](crate::ResponseInfo), dry runs and the fake name them by their `id`, and
//! the transport and the fake act on their facts.
//!
//! ```
//! # #[cfg(feature = "cloudflare-calls")] {
//! use apps_api::operations::{self, Credential, Envelope, IdKind, Replay, CALLS_APPS_LIST};
//! assert_eq!(CALLS_APPS_LIST.id, "calls-apps-list");
//! assert_eq!((CALLS_APPS_LIST.method, CALLS_APPS_LIST.path), ("GET", "/accounts/{account_id}/calls/apps"));
//! assert_eq!(CALLS_APPS_LIST.base_path, "/client/v4");
//! assert_eq!(CALLS_APPS_LIST.credential, Credential::ApiToken);
//! assert_eq!(CALLS_APPS_LIST.envelope, Envelope::Cloudflare);
//! assert_eq!(CALLS_APPS_LIST.replay, Replay::ByMethod);
//! assert_eq!(CALLS_APPS_LIST.id_kind("account_id"), Some(IdKind::Account));
//! assert_eq!(operations::SFU_SESSIONS_NEW.replay, Replay::NotAfterSent);
//! assert!(operations::TURN_REVOKE_CREDENTIAL.sensitive_path);
//! assert!(operations::ALL.contains(&CALLS_APPS_LIST));
//! # }
//! ```

/// One operation of a spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Operation {
    /// The spec's operationId, e.g. `calls-apps-list`.
    pub id: &'static str,
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path template, e.g. `/accounts/{account_id}/calls/apps`.
    pub path: &'static str,
    /// The spec file it comes from, e.g. `spec/cloudflare-calls.yaml`.
    pub spec: &'static str,
    /// The path the spec's server adds before `path`, e.g. `/client/v4` (empty for none).
    pub base_path: &'static str,
    /// The credential it takes (the spec's `security`).
    pub credential: Credential,
    /// The shape of its answers (the spec's `info.x-envelope`).
    pub envelope: Envelope,
    /// When it may be sent again (the spec's `x-replay`; by its method when absent).
    pub replay: Replay,
    /// Whether its path carries something sensitive (a parameter marked `x-sensitive`):
    /// errors, spans and dry runs then show the path template instead.
    pub sensitive_path: bool,
    /// Each path parameter and the kind of ID it carries (the spec's `x-id`), in path order.
    pub ids: &'static [(&'static str, IdKind)],
}

/// The kind of ID a path parameter carries, read from its spec (`x-id`); each has its type
/// ([`AccountId`](crate::AccountId), [`SessionId`](crate::SessionId), ...), which checks it
/// before anything is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdKind {
    /// A Cloudflare account ([`AccountId`](crate::AccountId)).
    Account,
    /// A Calls app ([`CallsAppId`](crate::CallsAppId)).
    CallsApp,
    /// A TURN key ([`TurnKeyId`](crate::TurnKeyId)).
    TurnKey,
    /// A TURN credential's username ([`TurnUsername`](crate::TurnUsername)).
    TurnUsername,
    /// A Realtime SFU session ([`SessionId`](crate::SessionId)).
    Session,
    /// A Magic account app ([`MagicAppId`](crate::MagicAppId)).
    MagicApp,
    /// A Magic site ([`SiteId`](crate::SiteId)).
    Site,
    /// A Magic site's app config ([`AppConfigId`](crate::AppConfigId)).
    AppConfig,
    /// A Hover app ([`HoverAppId`](crate::HoverAppId)).
    HoverApp,
}

/// The credential an operation takes, read from its spec's security schemes (`x-credential`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Credential {
    /// None (a login: it must not carry a stale token).
    None,
    /// A Cloudflare API token only (Calls documents no other).
    ApiToken,
    /// A Cloudflare API token, or the account's email and global API key.
    ApiTokenOrKey,
    /// A Calls app's secret (the Realtime SFU).
    AppSecret,
    /// A TURN key's own token.
    TurnKey,
    /// A Hover JWT.
    HoverJwt,
}

/// The shape an operation's answers come in, read from its spec (`info.x-envelope`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Envelope {
    /// Cloudflare's `{success, errors, messages, result}`.
    Cloudflare,
    /// The resource itself; errors as the API's own JSON (the Realtime APIs).
    Plain,
    /// JSON:API documents (Hover).
    JsonApi,
}

/// When an operation may be sent again after a try that may have reached the server (a lost
/// answer, a time-out, a 5xx), read from its spec (`x-replay`). A try refused with a 429, or
/// one that never left (no connection), is sent again under every rule but [`Replay::Once`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Replay {
    /// By its method: `GET`, `HEAD`, `PUT`, `DELETE` and `OPTIONS` are sent again; other
    /// methods only when the client allows it (`RetryConfig::retry_non_idempotent`).
    ByMethod,
    /// Always: it creates nothing durable, whatever its method says.
    Safe,
    /// Never, whatever its method or the client say: a second one would act twice.
    NotAfterSent,
    /// Sent once, whatever happens (a login: a second try is a second password attempt).
    Once,
}

impl Replay {
    /// Whether a request under this rule, sent with `method` by a client that does (or does
    /// not) `retry_non_idempotent`, may be sent again after it may have reached the server.
    pub(crate) fn sent_again(self, method: &str, retry_non_idempotent: bool) -> bool {
        match self {
            Replay::ByMethod => crate::core::retry::is_idempotent(method) || retry_non_idempotent,
            Replay::Safe => true,
            Replay::NotAfterSent | Replay::Once => false,
        }
    }
}

impl Operation {
    /// The operation with this operationId, if this build has it.
    pub fn by_id(id: &str) -> Option<&'static Operation> {
        ALL.iter().find(|op| op.id == id)
    }

    /// The names of its path parameters, in the order the path has them.
    ///
    /// ```
    /// # #[cfg(feature = "cloudflare-calls")] {
    /// use apps_api::operations::CALLS_APPS_RETRIEVE_APP_DETAILS as GET;
    /// assert_eq!(GET.parameters().collect::<Vec<_>>(), ["account_id", "app_id"]);
    /// # }
    /// ```
    pub fn parameters(&self) -> impl Iterator<Item = &'static str> {
        self.ids.iter().map(|(name, _)| *name)
    }

    /// The kind of ID its path parameter `name` carries, if it has that parameter.
    pub fn id_kind(&self, name: &str) -> Option<IdKind> {
        self.ids
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, kind)| *kind)
    }
}

// The table: a constant per operation of the specs this build has (`build.rs`), and `ALL`.
include!(concat!(env!("OUT_DIR"), "/operations.rs"));
