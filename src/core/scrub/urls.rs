//! Credentials in URLs: `wss://user:password@host/path?token=…` keeps its scheme, host and path,
//! and loses its user info, query and fragment, wherever a body is shown (an SFU adapter's
//! endpoint, a webhook URL, a URL quoted in an error).

use std::borrow::Cow;

/// `text` with every URL in it stripped of its user info, query and fragment. A URL runs from
/// its `scheme://` to the next whitespace: quotes and angle brackets do not end it, as a
/// careless (or hostile) URL may hold them unescaped before its `@` or in its query, and
/// hiding too much is safe where hiding too little is not. Text that is one URL (a JSON value
/// such as an adapter's endpoint) is that URL to its end, spaces included.
pub(crate) fn mask_url_credentials(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let whole = text
        .split_once("://")
        .is_some_and(|(scheme, _)| is_scheme(scheme.trim_start()));
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = at + 3;
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let end = if whole {
            after.len()
        } else {
            after.find(char::is_whitespace).unwrap_or(after.len())
        };
        out.push_str(&masked(&after[..end]));
        rest = &after[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Whether `text` is a URL scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`).
fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// A URL's part after `scheme://`, without its user info, query and fragment.
///
/// The user info is everything before the last `@` ahead of the query: a password holding
/// an unescaped `/` or `@` is hidden too (a path with an `@` loses its start with it: more
/// hidden, never less).
fn masked(url: &str) -> Cow<'_, str> {
    let (before_query, hidden) = match url.find(['?', '#']) {
        Some(at) => (&url[..at], Some(&url[at..at + 1])),
        None => (url, None),
    };
    let place = match before_query.rfind('@') {
        Some(at) => Cow::Owned(format!("[redacted]@{}", &before_query[at + 1..])),
        None => Cow::Borrowed(before_query),
    };
    match (place, hidden) {
        (Cow::Borrowed(_), None) => Cow::Borrowed(url),
        (place, hidden) => {
            let mut out = place.into_owned();
            if let Some(mark) = hidden {
                out.push_str(mark);
                out.push_str("[redacted]");
            }
            Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn user_info_query_and_fragment_go_scheme_host_and_path_stay() {
        for (text, shown) in [
            (
                "wss://user:password@host.example:8443/a/b?token=abc&x=1",
                "wss://[redacted]@host.example:8443/a/b?[redacted]",
            ),
            ("https://h.example/p#frag", "https://h.example/p#[redacted]"),
            ("https://a:b@h.example", "https://[redacted]@h.example"),
            ("https://h.example/p", "https://h.example/p"),
            (
                "could not reach wss://u@h/x?k=v, then \"wss://h2/?s=1\" too",
                "could not reach wss://[redacted]@h/x?[redacted] then \"wss://h2/?[redacted] too",
            ),
            ("no url here", "no url here"),
            ("://@?", "://[redacted]@?[redacted]"),
            ("'wss://u:p'w@h/x'", "'wss://[redacted]@h/x'"),
            ("wss://u:pa/ss@h/x", "wss://[redacted]@h/x"),
            // Quotes and brackets a careless URL holds do not end it.
            (
                "wss://u:pa\"ss@h/a?token=T",
                "wss://[redacted]@h/a?[redacted]",
            ),
            (
                "see wss://u:p<w@h/?token=ab<cd now",
                "see wss://[redacted]@h/?[redacted] now",
            ),
            // A value that is one URL is all URL, spaces included.
            (
                "wss://u:pa ss@h/a?token=T",
                "wss://[redacted]@h/a?[redacted]",
            ),
            ("WSS://U:P@H/A?T=1", "WSS://[redacted]@H/A?[redacted]"),
            ("wss://[::1]:443/a?t=1", "wss://[::1]:443/a?[redacted]"),
        ] {
            assert_eq!(mask_url_credentials(text), shown, "{text}");
        }
    }

    proptest! {
        #![proptest_config(crate::core::proptest_config())]

        /// Whatever a URL's user info and query hold (anything a URL can carry, and a `/` or
        /// `@` a careless one does), none of it is shown, and the host and path are.
        #[test]
        fn no_user_info_or_query_survives(
            user in "[A-Za-z0-9._~%!$&'()*+,;=:/@\"<>`-]{1,20}",
            host in "[a-z0-9-]{1,12}(\\.[a-z]{2,4})?",
            path in "(/[A-Za-z0-9._-]{0,8}){0,3}",
            query in "[A-Za-z0-9=&%._\"<>`-]{1,30}",
        ) {
            let shown = mask_url_credentials(&format!("wss://{user}@{host}{path}?{query}"))
                .into_owned();
            prop_assert_eq!(shown, format!("wss://[redacted]@{host}{path}?[redacted]"));
        }
    }
}
