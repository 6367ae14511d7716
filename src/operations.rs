//! Every operation of the APIs this build has, as `build.rs` reads them from the specs in
//! `spec/`: its operationId, method and path template. The facade names operations by these
//! constants, so an operation the specs do not have does not compile; errors, logs,
//! [`ResponseInfo`](crate::ResponseInfo), dry runs and the fake name them by their `id`.
//!
//! ```
//! # #[cfg(feature = "cloudflare-calls")] {
//! use apps_api::operations::{self, CALLS_APPS_LIST};
//! assert_eq!(CALLS_APPS_LIST.id, "calls-apps-list");
//! assert_eq!((CALLS_APPS_LIST.method, CALLS_APPS_LIST.path), ("GET", "/accounts/{account_id}/calls/apps"));
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
        self.path
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
    }
}

pub use crate::generated::operations::*;
