//! Where a request's token comes from (a bearer, or the session's cookie), whether a cookie
//! may be believed (not on a request another site made the browser send), and the cookies a
//! new session sets (and lets go).

use axum::http::{header, HeaderMap, HeaderValue};

use super::token::{cookie_name, expiry_of, Signer, Verdict};

/// How many session cookies a browser keeps of this proxy: past that, a new session lets the
/// ones that expire first go (a page reloaded all day would otherwise pile up a cookie per
/// session, past what a `Cookie` header or a browser's store holds).
pub(super) const KEPT_SESSIONS: usize = 8;

/// How a request showed its token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shown {
    Bearer,
    Cookie,
    Nothing,
}

/// The request's bearer token, if it has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Every `sfu-session-…` cookie of the request: (session, token).
fn session_cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter_map(|(name, token)| Some((name.strip_prefix("sfu-session-")?, token)))
}

/// What the request's token is worth for `session`, and how it was shown.
pub(super) fn verdict(signer: &Signer, headers: &HeaderMap, session: &str) -> (Verdict, Shown) {
    if let Some(token) = bearer(headers) {
        return (signer.check(token, session), Shown::Bearer);
    }
    let mut best = (Verdict::Invalid, Shown::Nothing);
    for (named, token) in session_cookies(headers) {
        if named != session {
            continue;
        }
        match signer.check(token, session) {
            Verdict::Owner => return (Verdict::Owner, Shown::Cookie),
            Verdict::Other => best = (Verdict::Other, Shown::Cookie),
            Verdict::Invalid => {}
        }
    }
    best
}

/// A session the request holds a valid token for, any one (the ICE servers ask for one).
pub(super) fn any_session(signer: &Signer, headers: &HeaderMap) -> Option<(String, Shown)> {
    if let Some(token) = bearer(headers) {
        let named = token.split('.').nth(1)?;
        return (signer.check(token, named) == Verdict::Owner)
            .then(|| (named.to_string(), Shown::Bearer));
    }
    session_cookies(headers)
        .find(|(named, token)| signer.check(token, named) == Verdict::Owner)
        .map(|(named, _)| (named.to_string(), Shown::Cookie))
}

/// Whether the browser says another site made it send this request (`Sec-Fetch-Site` of
/// `same-site` or `cross-site`, or an `Origin` that is not the request's host): a cookie does
/// not vouch for such a request. (`SameSite=Strict` keeps other sites' requests from carrying
/// it, not a sibling subdomain's.)
pub(super) fn sent_by_another_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    if matches!(fetch_site.as_deref(), Some("same-site" | "cross-site")) {
        return true;
    }
    let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    !origin_host.eq_ignore_ascii_case(host)
}

/// The `Set-Cookie` of a new session's token.
pub(super) fn session_cookie(
    session: &str,
    token: &str,
    prefix: &str,
    max_age: u64,
    secure: bool,
) -> Option<HeaderValue> {
    let mut cookie = format!(
        "{}={token}; Path={prefix}; Max-Age={max_age}; HttpOnly; SameSite=Strict",
        cookie_name(session)
    );
    if secure {
        cookie.push_str("; Secure");
    }
    let mut value = HeaderValue::from_str(&cookie).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// `Set-Cookie`s that let go of the session cookies past the [`KEPT_SESSIONS`] that expire
/// last, to make room for a new one.
pub(super) fn let_go(headers: &HeaderMap, prefix: &str, secure: bool) -> Vec<HeaderValue> {
    let mut held: Vec<(u64, &str)> = session_cookies(headers)
        .map(|(session, token)| (expiry_of(token).unwrap_or(0), session))
        .filter(|(_, session)| {
            session
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .collect();
    held.sort_unstable();
    held.dedup_by_key(|(_, session)| *session);
    let over = held.len().saturating_sub(KEPT_SESSIONS - 1);
    held[..over]
        .iter()
        .filter_map(|(_, session)| session_cookie(session, "", prefix, 0, secure))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn a_request_another_site_made_is_told_apart() {
        assert!(!sent_by_another_site(&headers(&[])));
        assert!(!sent_by_another_site(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(!sent_by_another_site(&headers(&[(
            "sec-fetch-site",
            "none"
        )])));
        assert!(sent_by_another_site(&headers(&[(
            "sec-fetch-site",
            "same-site"
        )])));
        assert!(sent_by_another_site(&headers(&[(
            "sec-fetch-site",
            "Cross-Site"
        )])));
        let from = |origin| headers(&[("origin", origin), ("host", "app.example.com")]);
        assert!(!sent_by_another_site(&from("https://app.example.com")));
        assert!(sent_by_another_site(&from("https://evil.example.com")));
        assert!(sent_by_another_site(&from("null")));
    }

    /// A browser holding more session cookies than are kept lets the first to expire go.
    #[test]
    fn old_session_cookies_are_let_go() {
        let cookies: Vec<String> = (0..12)
            .map(|n| format!("sfu-session-s{n}=v1.s{n}.{}.mac", 1000 + n))
            .collect();
        let map = headers(&[("cookie", &cookies.join("; "))]);
        let gone: Vec<String> = let_go(&map, "/sfu", true)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        assert_eq!(gone.len(), 12 - (KEPT_SESSIONS - 1));
        assert!(
            gone[0].starts_with("sfu-session-s0=; Path=/sfu; Max-Age=0"),
            "{gone:?}"
        );
        assert!(gone.iter().all(|c| !c.contains("s11=")));
        assert!(let_go(&headers(&[]), "/sfu", true).is_empty());
    }
}
