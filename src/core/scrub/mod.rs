//! Server-supplied text made safe to show: the client's own secrets and anything secret-shaped
//! removed, control characters escaped, and the length bounded, so an answer can neither leak a
//! credential into an error or a log nor flood or forge log lines.
//!
//! Order matters: secrets are removed from the text as the server sent it (raw, or from every
//! decoded JSON string) before anything is re-serialised, collapsed or cut, because each of
//! those steps changes how a secret is spelled.

/// How much of a body an error keeps, in characters.
const SNIPPET_CHARS: usize = 200;
/// How much of a body is examined for a snippet (or parsed as an error envelope).
pub(crate) const SNIPPET_INPUT_BYTES: usize = 64 * 1024;
/// The longest server-supplied message kept, in bytes.
pub(crate) const MESSAGE_BYTES: usize = 1024;
/// The most errors (or messages) of one answer kept.
pub(crate) const MAX_MESSAGES: usize = 20;
/// The longest short server-supplied value kept (a `cf-ray`, a host name), in bytes.
pub(crate) const SHORT_BYTES: usize = 128;

/// Whether a JSON key names a secret: anything with `secret`, `token`, `password`, `passwd`,
/// `credential` or `private` in it (`access_token`, `client_secret`, `webhook_secret`, …), and
/// `key`, `api_key`, `jwt`, `authorization`, `cookie`, `session`, `signature`, `username`.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "secret",
        "token",
        "password",
        "passwd",
        "credential",
        "private",
    ]
    .iter()
    .any(|part| key.contains(part))
        || matches!(
            key.as_str(),
            "key"
                | "api_key"
                | "apikey"
                | "jwt"
                | "authorization"
                | "cookie"
                | "session"
                | "signature"
                | "username"
                // An SDP offer or answer carries ICE credentials.
                | "sdp"
        )
}

/// The secrets a client knows, in every spelling they can take in a body.
#[derive(Default)]
pub(crate) struct Known {
    /// Each secret as itself, and as JSON, HTML and URLs escape it.
    spellings: Vec<String>,
    /// The same, ASCII-lowercased: for header values, which URL parsing may have lowercased.
    lowered: Vec<String>,
    /// Each secret as itself, lowercased, and as a host name maps it (UTS 46: case folded,
    /// NFKC), in characters: for text as loose as a host name.
    folded: Vec<Vec<char>>,
}

impl Known {
    /// The client's own secrets (those shorter than 4 characters are too likely to match
    /// ordinary text to be removed).
    pub(crate) fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut spellings = Vec::new();
        let mut folded = Vec::new();
        for secret in secrets.into_iter().filter(|s| s.chars().count() >= 4) {
            spellings.extend(spellings_of(secret));
            folded.push(secret.to_lowercase().chars().collect());
            folded.push(idna::domain_to_unicode(secret).0.chars().collect());
        }
        // Longest first, so that a secret containing another is removed whole.
        spellings.sort_by_key(|s| std::cmp::Reverse(s.len()));
        spellings.dedup();
        let mut lowered: Vec<String> = spellings.iter().map(|s| s.to_ascii_lowercase()).collect();
        lowered.dedup();
        Self {
            spellings,
            lowered,
            folded,
        }
    }

    /// Whether `text` (and its Unicode form, if it is a host name in punycode) has a run of
    /// [`SHARED_RUN`] characters or more in common with a known secret, whatever the case:
    /// for a host name, which holds no more than a piece of a secret whose `/`, `?` or `@` cut
    /// it short.
    pub(crate) fn shares_a_run_with(&self, text: &str) -> bool {
        let mut views: Vec<Vec<char>> = vec![text.to_lowercase().chars().collect()];
        if text.contains("xn--") {
            views.push(idna::domain_to_unicode(text).0.chars().collect());
        }
        self.folded.iter().any(|secret| {
            secret.windows(SHARED_RUN).any(|piece| {
                views
                    .iter()
                    .any(|view| view.windows(SHARED_RUN).any(|w| w == piece))
            })
        })
    }

    /// `text` with every spelling of every known secret replaced, whatever its ASCII case.
    fn remove_ignoring_case(&self, text: &str) -> String {
        let lower = text.to_ascii_lowercase();
        // ASCII lowercasing keeps every byte where it was, so ranges found in `lower` are
        // ranges of `text`.
        let mut ranges: Vec<(usize, usize)> = self
            .lowered
            .iter()
            .flat_map(|s| {
                lower
                    .match_indices(s.as_str())
                    .map(|(at, s)| (at, at + s.len()))
            })
            .collect();
        if ranges.is_empty() {
            return text.to_string();
        }
        ranges.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in ranges {
            if start >= at {
                out.push_str(&text[at..start]);
                out.push_str("[redacted]");
            }
            at = at.max(end);
        }
        out.push_str(&text[at..]);
        out
    }

    /// `text` with every spelling of every known secret replaced.
    fn remove(&self, text: &str) -> String {
        let mut text = text.to_string();
        for spelling in &self.spellings {
            if text.contains(spelling.as_str()) {
                text = text.replace(spelling.as_str(), "[redacted]");
            }
        }
        text
    }

    /// Whether a known secret is still in `text` once its escapes are undone (HTML entities of
    /// every form, percent-encoding with `+` for a space, JSON escapes such as `\/`), in its
    /// case or, with `any_case`, in any ASCII case: a spelling [`Known::remove`] did not list.
    /// Such text is withheld whole.
    fn hidden_in(&self, text: &str, any_case: bool) -> bool {
        let secrets = if any_case {
            &self.lowered
        } else {
            &self.spellings
        };
        !secrets.is_empty()
            && unescape::views(text).iter().any(|view| {
                let view = if any_case {
                    view.to_ascii_lowercase()
                } else {
                    view.clone()
                };
                secrets.iter().any(|s| view.contains(s.as_str()))
            })
    }

    /// `text` without a trailing piece (4 characters or more) that begins a known secret: what
    /// is left of a secret that a cut body ends in.
    fn remove_cut_tail(&self, text: &str) -> String {
        for spelling in &self.spellings {
            let chars: Vec<(usize, char)> = spelling.char_indices().collect();
            for take in (4..chars.len()).rev() {
                let prefix = &spelling[..chars[take].0];
                if let Some(kept) = text.strip_suffix(prefix) {
                    return format!("{kept}[redacted]");
                }
            }
        }
        text.to_string()
    }
}

/// How many characters a host name may share with a secret before it is withheld.
const SHARED_RUN: usize = 4;

/// What a snippet or message becomes when it quotes a secret in a form too odd to cut out.
pub(crate) const WITHHELD: &str = "[withheld: it quotes a secret of this client]";

/// What a URL leaves as it is: RFC 3986's unreserved characters.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A secret as it may appear in a body: raw; JSON-escaped (as serde_json writes it, and with
/// every non-ASCII or HTML-significant character as `\uXXXX`, as Rails and Python write it);
/// HTML-escaped; percent-encoded.
fn spellings_of(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string()];
    if let Ok(quoted) = serde_json::to_string(secret) {
        out.push(quoted[1..quoted.len() - 1].to_string());
    }
    for upper in [false, true] {
        let mut ascii = String::new();
        for c in secret.chars() {
            match c {
                '"' => ascii.push_str("\\\""),
                '\\' => ascii.push_str("\\\\"),
                c if (c.is_ascii_graphic() && !"<>&'".contains(c)) || c == ' ' => ascii.push(c),
                c => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        if upper {
                            ascii.push_str(&format!("\\u{unit:04X}"));
                        } else {
                            ascii.push_str(&format!("\\u{unit:04x}"));
                        }
                    }
                }
            }
        }
        out.push(ascii);
    }
    let html = secret
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    out.push(html);
    out.push(percent_encoding::utf8_percent_encode(secret, UNRESERVED).to_string());
    out
}

/// A short, secret-free rendering of a body for an error message.
///
/// At most the first 64 KiB are examined. JSON bodies lose the values of secret-named keys and
/// every known secret inside any string; other text loses every spelling of the known
/// secrets, the values of secret-named keys in JSON-looking text, anything shaped like a JWT
/// and every run of 24 or more token-like characters. Then whitespace is collapsed, control
/// characters are escaped and the result is cut to 200 characters.
pub(crate) fn snippet(body: &[u8], known: &Known) -> String {
    let cut = body.len() > SNIPPET_INPUT_BYTES;
    let body = &body[..body.len().min(SNIPPET_INPUT_BYTES)];
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut value) => {
            redact_json(&mut value, known);
            value.to_string()
        }
        Err(_) => {
            let text = known.remove(&String::from_utf8_lossy(body));
            let text = if text.trim_start().starts_with('<') {
                // A web page (an edge error or block page): its words, not its markup.
                known.remove(&html_text(&text))
            } else {
                text
            };
            // A body that ends mid-secret (cut by the server, or here at 64 KiB) ends in a piece
            // of it: a known secret's start, or an unknown token's.
            let text = known.remove_cut_tail(text.trim_end());
            let text = if cut { mask_cut_run(&text) } else { text };
            let text = urls::mask_url_credentials(&text);
            mask_token_runs(&mask_jwts(&redact_secret_values(&text)))
        }
    };
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // Collapsing can join what was apart; look once more.
    let collapsed = known.remove(&collapsed);
    if known.hidden_in(&collapsed, false) {
        return WITHHELD.to_string();
    }
    let mut shown = escape_controls(&collapsed);
    if shown.chars().count() > SNIPPET_CHARS {
        shown = shown.chars().take(SNIPPET_CHARS).collect::<String>() + "…";
    }
    shown
}

/// A request body as a dry run shows it: JSON with secret-named values and known secrets
/// redacted, other text with known secrets removed; never cut.
pub(crate) fn redacted_body(body: &[u8], known: &Known) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut value) => {
            redact_json(&mut value, known);
            value.to_string()
        }
        Err(_) => {
            urls::mask_url_credentials(&known.remove(&String::from_utf8_lossy(body))).into_owned()
        }
    }
}

/// The text of an HTML page: scripts and styles dropped, tags turned into spaces.
fn html_text(page: &str) -> String {
    let lower = page.to_ascii_lowercase();
    let mut out = String::with_capacity(page.len() / 2);
    let mut at = 0;
    while at < page.len() {
        let Some(open) = lower[at..].find('<').map(|i| at + i) else {
            out.push_str(&page[at..]);
            break;
        };
        out.push_str(&page[at..open]);
        out.push(' ');
        let skip_to = ["script", "style"].iter().find_map(|tag| {
            lower[open + 1..]
                .starts_with(tag)
                .then(|| lower[open..].find(&format!("</{tag}")).map(|i| open + i))
                .flatten()
        });
        let from = skip_to.unwrap_or(open);
        at = match lower[from..].find('>') {
            Some(close) => from + close + 1,
            None => page.len(),
        };
    }
    out
}

/// A server-supplied message (an API error, a Cloudflare message, a serde reason) made safe:
/// known secrets, JWT-shaped words and URLs' user info and queries removed, control characters
/// escaped, at most `limit` bytes. Other text is kept as the server wrote it.
pub(crate) fn message(text: &str, known: &Known, limit: usize) -> String {
    let text = mask_jwts(&urls::mask_url_credentials(&known.remove(text)));
    if known.hidden_in(&text, false) {
        return WITHHELD.to_string();
    }
    bound(&escape_controls(&text), limit)
}

/// Whether `text` contains `lowered` (ASCII-lowercase), whatever the ASCII case of `text`.
///
/// Only chooses [`header_value`]'s fast path: a `true` too many takes the full path, which
/// gives the same value.
fn contains_ignoring_case(text: &str, lowered: &str) -> bool {
    text.len() >= lowered.len()
        && text
            .as_bytes()
            .windows(lowered.len())
            .any(|w| w.eq_ignore_ascii_case(lowered.as_bytes()))
}

/// A short server-supplied value with controls escaped and at most [`SHORT_BYTES`] kept.
pub(crate) fn short(text: &str) -> String {
    bound(&escape_controls(text), SHORT_BYTES)
}

/// A value from an answer's headers (a `cf-ray`, a redirect's host) made safe as [`message`]
/// makes server text safe, with the known secrets found whatever their ASCII case (URL
/// parsing lowercases a host), and at most [`SHORT_BYTES`] kept.
pub(crate) fn header_value(text: &str, known: &Known) -> String {
    // The common case (a `cf-ray` on every answer): nothing that could hide a secret.
    let plain = !text.contains(['&', '%', '\\', '+']) && !text.contains("eyJ");
    if plain
        && !known
            .lowered
            .iter()
            .any(|s| contains_ignoring_case(text, s))
    {
        return short(text);
    }
    let text = mask_jwts(&known.remove_ignoring_case(text));
    if known.hidden_in(&text, true) {
        return WITHHELD.to_string();
    }
    short(&text)
}

/// `text` cut to at most `limit` bytes at a character boundary, with `…` when cut.
fn bound(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Control characters (and the invisible ones that reorder or hide text) written as escapes,
/// so that server text cannot start a new log line, move the cursor or disguise itself.
pub(crate) fn escape_controls(text: &str) -> String {
    let hidden = is_hidden;
    if !text.chars().any(hidden) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether a terminal would act on `c` or not show it: a control character (C0, DEL, C1) or
/// an invisible one ([`is_invisible`]).
pub(crate) fn is_hidden(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

/// `value` with the values of secret-named keys replaced (for showing a body that may hold
/// secrets the client does not know, such as the fake's request log).
#[cfg(feature = "fake")]
pub(crate) fn redact_secret_keys(value: &mut serde_json::Value) {
    redact_json(value, &Known::new([]));
}

/// Characters that change or hide how text reads without showing themselves: Unicode's format
/// characters (bidi controls and marks, zero-width ones, the soft hyphen, tags), line and
/// paragraph separators, and fillers and variation selectors that render as nothing.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

fn redact_json(value: &mut serde_json::Value, known: &Known) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut child) in entries {
                let secret_key = is_secret_key(&key);
                if secret_key && !child.is_null() {
                    child = Value::String("[redacted]".into());
                } else {
                    redact_json(&mut child, known);
                }
                map.insert(known.remove(&key), child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_json(v, known)),
        Value::String(text) => *text = mask_jwts(&urls::mask_url_credentials(&known.remove(text))),
        _ => {}
    }
}

/// In text that looks like (possibly cut) JSON, the string value after each secret-named key
/// replaced: `"password": "hunter2"` → `"password": "[redacted]"`.
fn redact_secret_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let Some(close) = closing_quote(rest) else {
            out.push_str(rest);
            return out;
        };
        let key = &rest[..close];
        out.push_str(&rest[..=close]);
        rest = &rest[close + 1..];
        if !is_secret_key(key) {
            continue;
        }
        let after_colon = rest.trim_start();
        let Some(value) = after_colon.strip_prefix(':') else {
            continue;
        };
        let value = value.trim_start();
        let Some(value) = value.strip_prefix('"') else {
            continue;
        };
        out.push_str(": \"[redacted]\"");
        rest = match closing_quote(value) {
            Some(end) => &value[end + 1..],
            // Cut inside the value: drop the rest of it.
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// The index of the `"` that ends a JSON string starting at `text` (escapes skipped).
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, b) in text.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// Every JWT-shaped run (`eyJ…` with at least two dots) replaced.
fn mask_jwts(text: &str) -> String {
    if !text.contains("eyJ") {
        return text.to_string();
    }
    let jwt_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("eyJ") {
        out.push_str(&rest[..start]);
        let run_len = rest[start..]
            .find(|c: char| !jwt_char(c))
            .unwrap_or(rest.len() - start);
        let run = &rest[start..start + run_len];
        if run.matches('.').count() >= 2 {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        rest = &rest[start + run_len..];
    }
    out.push_str(rest);
    out
}

/// `text` with its last run of token-like characters (8 or more) masked: the start of
/// whatever was cut there.
fn mask_cut_run(text: &str) -> String {
    let token_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    let run = text.chars().rev().take_while(|c| token_char(*c)).count();
    if run < 8 {
        return text.to_string();
    }
    let keep: String = text.chars().take(text.chars().count() - run).collect();
    keep + "[redacted]"
}

fn mask_token_runs(text: &str) -> String {
    const RUN: usize = 24;
    let token_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= RUN && run != "[redacted]" {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

mod describe;
#[cfg(test)]
mod tests;
mod unescape;
mod urls;

pub(crate) use describe::{describe, without_values};
