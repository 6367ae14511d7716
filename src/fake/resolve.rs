//! Which operation a request is for, read off the operation table the specs generate: its
//! method and path against every operation's template, under the prefix its API is served at.
//! Every operation of the specs has a route by construction; what it needs besides is a
//! handler.

use axum::http::Method;
use axum::response::Response;

use super::State;
use crate::core::ids::IdRule;
use crate::operations::{Envelope, IdKind, Operation, ALL};

/// Serves an operation whose credentials were accepted.
pub(crate) type Handler = fn(&State, &Params, &[u8]) -> Response;

/// An operation and what serves it.
pub(crate) type Route = (&'static Operation, Handler);

/// The API a request is for, by where it is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    /// `/client/v4`: Calls apps, TURN keys, Magic apps.
    Cloudflare,
    /// `/v1`: the Realtime data plane (TURN credentials).
    Realtime,
    /// `/api`: Hover.
    Hover,
}

impl Api {
    /// The API of an operation, by the shape of its answers.
    pub(crate) fn of(operation: &Operation) -> Api {
        match operation.envelope {
            Envelope::Plain => Api::Realtime,
            Envelope::JsonApi => Api::Hover,
            _ => Api::Cloudflare,
        }
    }

    /// The API a path is for, if any.
    pub(crate) fn at(path: &str) -> Option<Api> {
        if path == "/client/v4" || path.starts_with("/client/v4/") {
            Some(Api::Cloudflare)
        } else if path.starts_with("/v1/") {
            Some(Api::Realtime)
        } else if path.starts_with("/api/") {
            Some(Api::Hover)
        } else {
            None
        }
    }
}

/// The path parameters of a request, by the names its template gives them.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(&'static str, String)>);

impl Params {
    /// The parameter `name` (empty if the template has none).
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The account of a Cloudflare path.
    pub(crate) fn account(&self) -> String {
        self.get("account_id").to_string()
    }
}

/// Why a request reaches no operation.
pub(crate) enum NoRoute {
    /// No template has this shape, or none with this method: Cloudflare's 400 with 7003 and
    /// 7000.
    Unknown,
    /// A template and method match, but an identifier in the path is not one: Cloudflare's 404
    /// with 7003.
    BadIdentifier,
}

/// What a path parameter must look like: the rule of the ID it carries. Hover's app ID is the
/// handler's to judge (Hover answers a malformed one with its own 404).
fn rule(operation: &Operation, name: &str) -> Option<IdRule> {
    match operation.id_kind(name)? {
        IdKind::HoverApp => None,
        kind => Some(kind.rule()),
    }
}

/// The operation `method` and `path` are for, and its path parameters.
///
/// ASSUMPTION: a wrong method on a known path is answered like an unknown path (Cloudflare's
/// router matches method and path together, and says "No route for that URI"); no captured
/// answer to a wrong method was found.
pub(crate) fn find(method: &Method, path: &str) -> Result<(&'static Operation, Params), NoRoute> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut bad_identifier = false;
    for operation in ALL {
        let template: Vec<&str> = operation
            .base_path
            .split('/')
            .chain(operation.path.split('/').skip(1))
            .collect();
        if template.len() != segments.len() || operation.method != method.as_str() {
            continue;
        }
        let mut params = Params::default();
        let mut shape = true;
        let mut valid = true;
        for (part, segment) in template.iter().zip(&segments) {
            match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => {
                    let name: &'static str = name_of(operation, name);
                    valid &= rule(operation, name).is_none_or(|rule| rule.check(segment).is_ok());
                    params.0.push((name, segment.to_string()));
                }
                None => shape &= part == segment,
            }
        }
        if shape && valid {
            return Ok((operation, params));
        }
        bad_identifier |= shape;
    }
    Err(if bad_identifier {
        NoRoute::BadIdentifier
    } else {
        NoRoute::Unknown
    })
}

/// `name` as the `'static` slice of the operation's template it was found in.
fn name_of(operation: &'static Operation, name: &str) -> &'static str {
    operation.parameters().find(|n| *n == name).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operations as ops;

    #[test]
    fn requests_find_their_operation_and_parameters() {
        let account = "023e105f4ecef8ad9ca31a8372d0c353";
        let app = "2a95132c15732412d22c1476fa83f27a";
        let (op, params) = find(
            &Method::GET,
            &format!("/client/v4/accounts/{account}/calls/apps/{app}"),
        )
        .ok()
        .unwrap();
        assert_eq!(*op, ops::CALLS_APPS_RETRIEVE_APP_DETAILS);
        assert_eq!(
            (params.get("account_id"), params.get("app_id")),
            (account, app)
        );
        assert!(matches!(
            find(
                &Method::PATCH,
                &format!("/client/v4/accounts/{account}/calls/apps/{app}")
            ),
            Err(NoRoute::Unknown)
        ));
        assert!(matches!(
            find(
                &Method::GET,
                &format!("/client/v4/accounts/{account}/calls/apps/short")
            ),
            Err(NoRoute::BadIdentifier)
        ));
        assert!(matches!(
            find(&Method::GET, "/client/v4/accounts/a..b/calls/apps"),
            Err(NoRoute::BadIdentifier)
        ));
        assert!(matches!(
            find(&Method::GET, "/client/v4/zones"),
            Err(NoRoute::Unknown)
        ));
        let (op, params) = find(&Method::PUT, "/api/apps/43120/restore").ok().unwrap();
        assert_eq!((*op, params.get("id")), (ops::HOVER_APPS_RESTORE, "43120"));
    }
}
