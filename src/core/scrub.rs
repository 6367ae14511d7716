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
    /// every form, percent-encoding with `+` for a space, JSON escapes such as `\/`): a
    /// spelling [`Known::remove`] did not list. Such text is withheld whole.
    fn hidden_in(&self, text: &str) -> bool {
        if self.spellings.is_empty() {
            return false;
        }
        [
            html_unescape(text),
            percent_decode(text),
            json_unescape(text),
        ]
        .iter()
        .any(|view| self.spellings.iter().any(|s| view.contains(s.as_str())))
    }

    /// [`Known::hidden_in`], whatever the ASCII case of the text.
    fn hidden_in_ignoring_case(&self, text: &str) -> bool {
        if self.lowered.is_empty() {
            return false;
        }
        [
            html_unescape(text),
            percent_decode(text),
            json_unescape(text),
        ]
        .iter()
        .map(|view| view.to_ascii_lowercase())
        .any(|view| self.lowered.iter().any(|s| view.contains(s.as_str())))
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

/// `text` with HTML entities decoded: named (`&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`) and
/// numeric (`&#39;`, `&#x27;`).
fn html_unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let entity = rest
            .find(';')
            .filter(|end| *end <= 10)
            .map(|end| (&rest[1..end], end));
        let decoded = entity.and_then(|(name, end)| {
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` with `%XX` (either case) decoded and `+` read as a space; bytes that do not decode
/// to UTF-8 are replaced.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        // Two hex digits: at most 255.
                        out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` with JSON string escapes undone (`\"`, `\\`, `\/`, `\n`, `\uXXXX` with surrogate
/// pairs, …), wherever they are.
fn json_unescape(text: &str) -> String {
    if !text.contains('\\') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let unit = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
                    let digits: String = chars.by_ref().take(4).collect();
                    u32::from_str_radix(&digits, 16).ok()
                };
                match unit(&mut chars) {
                    Some(high @ 0xD800..=0xDBFF) => {
                        // A low surrogate must follow; a lone high one stands for nothing, and
                        // what follows it is kept.
                        let mut ahead = chars.clone();
                        let low = (ahead.next() == Some('\\') && ahead.next() == Some('u'))
                            .then(|| unit(&mut ahead))
                            .flatten()
                            .filter(|low| (0xDC00..=0xDFFF).contains(low));
                        if let Some(low) = low {
                            chars = ahead;
                            out.extend(char::from_u32(
                                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00),
                            ));
                        }
                    }
                    Some(unit) => out.extend(char::from_u32(unit)),
                    None => {}
                }
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

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
    let mut percent = String::new();
    for byte in secret.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            percent.push(byte as char);
        } else {
            percent.push_str(&format!("%{byte:02X}"));
        }
    }
    out.push(percent);
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
            mask_token_runs(&mask_jwts(&redact_secret_values(&text)))
        }
    };
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // Collapsing can join what was apart; look once more.
    let collapsed = known.remove(&collapsed);
    if known.hidden_in(&collapsed) {
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
        Err(_) => known.remove(&String::from_utf8_lossy(body)),
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
/// known secrets and JWT-shaped words removed, control characters escaped, at most `limit`
/// bytes. Other text is kept as the server wrote it.
pub(crate) fn message(text: &str, known: &Known, limit: usize) -> String {
    let text = mask_jwts(&known.remove(text));
    if known.hidden_in(&text) {
        return WITHHELD.to_string();
    }
    bound(&escape_controls(&text), limit)
}

/// Whether `text` contains `lowered` (ASCII-lowercase), whatever the ASCII case of `text`.
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
    if known.hidden_in_ignoring_case(&text) {
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
        Value::String(text) => *text = mask_jwts(&known.remove(text)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn none() -> Known {
        Known::new([])
    }

    #[test]
    fn snippet_redacts_secret_keys_and_token_runs() {
        let json = br#"{"result":{"uid":"abc","secret":"66bcf64aa8907b9f9d90ac17746a77ce"}}"#;
        let s = snippet(json, &none());
        assert!(!s.contains("66bcf64a"), "{s}");
        assert!(s.contains("[redacted]") && s.contains("abc"), "{s}");

        let truncated = br#"{"result":{"secret":"66bcf64aa8907b9f9d90ac17746a77ce394c"#;
        let s = snippet(truncated, &none());
        assert!(!s.contains("66bcf64a"), "{s}");

        let html = b"<html><body>Bad gateway   token=my-own-token</body></html>";
        let s = snippet(html, &Known::new(["my-own-token"]));
        assert_eq!(s, "Bad gateway token=[redacted]");
    }

    #[test]
    fn html_pages_show_their_words() {
        let page = b"<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title>\
            <style>body { color: red }</style><script>var x = '<b>';</script></head>\
            <body><h1>Sorry, you have been blocked</h1><p>Ray ID: <strong>abc</strong></p>";
        let s = snippet(page, &none());
        assert_eq!(
            s,
            "Attention Required! | Cloudflare Sorry, you have been blocked Ray ID: abc"
        );
        // A secret split by markup is still found once the markup is gone.
        let s = snippet(b"<p>sec<b>ret-value</b></p>", &Known::new(["secret-value"]));
        assert!(!s.contains("secret-value"), "{s}");
    }

    #[test]
    fn short_secret_values_are_redacted_in_cut_json() {
        let cut = br#"{"error":"bad","password": "hunter2", "name": "x", "token":"abc"#;
        let s = snippet(cut, &none());
        assert!(!s.contains("hunter2") && !s.contains("abc"), "{s}");
        assert!(s.contains(r#""name": "x""#), "{s}");
    }

    #[test]
    fn snippet_is_short() {
        let long: Vec<u8> = (0..10_000)
            .map(|i| if i % 10 == 0 { b' ' } else { b'x' })
            .collect();
        assert!(snippet(&long, &none()).chars().count() <= SNIPPET_CHARS + 1);
    }

    /// Each way a body can spell a secret, written out by hand, and exactly what the snippet
    /// and the message make of it: the spelling cut out where the list of spellings has it,
    /// the whole text withheld where only undoing the escapes finds it.
    #[test]
    fn known_secrets_are_found_however_the_body_spells_them() {
        const W: &str = WITHHELD;
        // (secret, body, snippet, message)
        let cases: &[(&str, &str, &str, &str)] = &[
            // JSON, parsed: the secret is removed from the decoded string.
            (
                r#"pa"ss"#,
                r#"{"error": "wrong password pa\"ss"}"#,
                r#"{"error":"wrong password [redacted]"}"#,
                r#"{"error": "wrong password [redacted]"}"#,
            ),
            (
                r"back\slash",
                r#"{"error": "bad back\\slash"}"#,
                r#"{"error":"bad [redacted]"}"#,
                r#"{"error": "bad [redacted]"}"#,
            ),
            (
                "two  spaces",
                r#"{"error": "bad two  spaces"}"#,
                r#"{"error":"bad [redacted]"}"#,
                r#"{"error": "bad [redacted]"}"#,
            ),
            (
                "pässwörd",
                r#"{"error": "bad p\u00e4ssw\u00f6rd"}"#,
                r#"{"error":"bad [redacted]"}"#,
                r#"{"error": "bad [redacted]"}"#,
            ),
            // Cut JSON (not parsed): the escaped spellings are in the list.
            (
                r#"pa"ss"#,
                r#"{"error": "wrong password pa\"ss", "cut"#,
                r#"{"error": "wrong password [redacted]", "cut"#,
                r#"{"error": "wrong password [redacted]", "cut"#,
            ),
            (
                r"back\slash",
                r#"{"error": "bad back\\slash"#,
                r#"{"error": "bad [redacted]"#,
                r#"{"error": "bad [redacted]"#,
            ),
            (
                "pässwörd",
                r#"{"error": "bad p\u00E4ssw\u00F6rd"#,
                r#"{"error": "bad [redacted]"#,
                r#"{"error": "bad [redacted]"#,
            ),
            (
                "emoji😀x",
                r#"{"error": "bad emoji\ud83d\ude00x"#,
                r#"{"error": "bad [redacted]"#,
                r#"{"error": "bad [redacted]"#,
            ),
            (
                "emoji😀x",
                r#"{"error": "bad emoji\uD83D\uDE00x"#,
                r#"{"error": "bad [redacted]"#,
                r#"{"error": "bad [redacted]"#,
            ),
            (
                "pässwörd-1",
                r#"{"error": "bad \u00e4 p\u00e4ssw\u00f6rd-1"#,
                r#"{"error": "bad \u00e4 [redacted]"#,
                r#"{"error": "bad \u00e4 [redacted]"#,
            ),
            // Cut JSON with escapes the list does not have: found once they are undone.
            (
                r#"pa"ss"#,
                r#"{"error": "wrong password pa\u0022ss", "cut"#,
                W,
                W,
            ),
            ("pa/ss/word", r#"{"error":"bad pa\/ss\/word"#, W, W),
            // Plain text and HTML.
            (
                "two  spaces",
                "plain two  spaces text",
                "plain [redacted] text",
                "plain [redacted] text",
            ),
            (
                "<tag>&amp",
                "<p>wrong password &lt;tag&gt;&amp;amp</p>",
                "wrong password [redacted]",
                "<p>wrong password [redacted]</p>",
            ),
            (
                "it's-a-secret",
                "<p>it&#39;s-a-secret</p>",
                "[redacted]",
                "<p>[redacted]</p>",
            ),
            (
                "say \"hi\" now",
                "<p>say &quot;hi&quot; now</p>",
                "[redacted]",
                "<p>[redacted]</p>",
            ),
            ("it's-a-secret", "<p>it&#x27;s-a-secret</p>", W, W),
            ("it's-a-secret", "<p>it&apos;s-a-secret</p>", W, W),
            ("say \"hi\" now", "<p>say &#34;hi&#34; now</p>", W, W),
            // Percent-encoded: upper-case hex is in the list; lower case and `+` for a space
            // are found by decoding.
            (
                "pässwörd",
                "login?password=p%C3%A4ssw%C3%B6rd",
                "login?password=[redacted]",
                "login?password=[redacted]",
            ),
            (
                "pa/ss word",
                "login?password=pa%2Fss%20word",
                "login?password=[redacted]",
                "login?password=[redacted]",
            ),
            ("pässwörd", "login?password=p%c3%a4ssw%c3%b6rd", W, W),
            ("pa/ss word", "login?password=pa%2fss+word", W, W),
        ];
        for (secret, body, snippet_out, message_out) in cases {
            let known = Known::new([*secret]);
            assert_eq!(
                snippet(body.as_bytes(), &known),
                *snippet_out,
                "snippet of {body:?}"
            );
            assert_eq!(
                message(body, &known, MESSAGE_BYTES),
                *message_out,
                "message of {body:?}"
            );
        }
    }

    /// A body cut inside a secret (by the server, or here at 64 KiB) leaves its start: a known
    /// secret's, or an unknown token's past the cut.
    #[test]
    fn a_secret_cut_short_leaves_nothing() {
        let token = "tok3n-0123456789abcdefghijklmnopqrstuv";
        let known = Known::new([token]);
        let s = snippet(
            format!(r#"{{"error": "token {}"#, &token[..20]).as_bytes(),
            &known,
        );
        assert!(!s.contains(&token[..8]), "{s}");
        let mut long = vec![b' '; SNIPPET_INPUT_BYTES - 20];
        long.extend_from_slice(b"unknown0123456789abcdefghijklmnop");
        let s = snippet(&long, &none());
        assert!(!s.contains("unknown0123"), "{s}");
    }

    /// Each decoder undoes every escape it knows, leaves what is not one as it is, and never
    /// eats a character that follows.
    #[test]
    fn the_decoders_undo_each_escape_exactly() {
        assert_eq!(
            html_unescape(
                "a&amp;b&lt;c&gt;d&quot;e&apos;f&#39;g&#x27;h&#X27;i&bogus;j&k&#xZZ;l&#1114112;\
                 m&verylongentityname;n&"
            ),
            "a&b<c>d\"e'f'g'h'i&bogus;j&k&#xZZ;l&#1114112;m&verylongentityname;n&"
        );
        assert_eq!(
            percent_decode("a%2Fb%2fc+d%zz%4%e2%82%ac%ff%41%"),
            "a/b/c d%zz%4€\u{fffd}A%"
        );
        assert_eq!(
            json_unescape(
                r#"a\"b\\c\/d\ne\tf\rg\bh\fi\u00e4j\ud83d\ude00k\uD83D\uDE00l\xm\ud83dn\uzzzzo\"#
            ),
            "a\"b\\c/d\ne\tf\rg\u{8}h\u{c}iäj😀k😀lxmno\\"
        );
        assert_eq!(json_unescape("no escapes"), "no escapes");
    }

    /// Header values: every known secret removed whatever its case, overlapping ones too; an
    /// escaped one withheld; a value with nothing of them kept whole.
    #[test]
    fn header_values_lose_secrets_in_any_case() {
        let known = Known::new(["abcdef", "defghi"]);
        assert_eq!(header_value("x-abcdefghi-y", &known), "x-[redacted]-y");
        assert_eq!(
            header_value("x-ABCDEF-y-DEFGHI", &known),
            "x-[redacted]-y-[redacted]"
        );
        let known = Known::new(["pa/ss word"]);
        assert_eq!(header_value("ray PA%2FSS%20WORD", &known), "ray [redacted]");
        assert_eq!(header_value("ray pa%2fss+word", &known), WITHHELD);
        assert_eq!(
            header_value("7a71bf037bc8de34-FRA", &known),
            "7a71bf037bc8de34-FRA"
        );
        // Bounded and escaped like any short server value.
        assert_eq!(header_value("a\u{1b}b", &known), "a\\u{1b}b");
        assert_eq!(
            header_value(&"r".repeat(300), &known).len(),
            SHORT_BYTES + 3
        );
    }

    #[test]
    fn secret_named_keys_are_recognised() {
        let body = br#"{"access_token": "opaque-1", "client_secret": "opaque-2", "jwt": "opaque-3",
            "refresh_token": "opaque-4", "tokens": 2, "keys": ["k"], "name": "kept"}"#;
        let s = snippet(body, &none());
        assert!(!s.contains("opaque"), "{s}");
        assert!(s.contains("kept"), "{s}");
    }

    #[test]
    fn invisible_characters_are_escaped() {
        let m = message(
            "a\u{61C}b\u{E0041}c\u{AD}d\u{180E}e",
            &none(),
            MESSAGE_BYTES,
        );
        assert!(m.is_ascii(), "{m}");
    }

    #[test]
    fn jwts_are_masked_anywhere() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjo2Mn0.c2ln";
        for text in [
            format!("token={jwt}"),
            format!("({jwt})"),
            format!("\"{jwt}\""),
        ] {
            let m = message(&text, &none(), MESSAGE_BYTES);
            assert!(!m.contains("eyJ1c2VyIjo2Mn0"), "{m}");
        }
        assert_eq!(
            message("eyJust a word", &none(), MESSAGE_BYTES),
            "eyJust a word"
        );
    }

    #[test]
    fn control_characters_cannot_forge_lines() {
        let forged = "bad\nINFO apps_api: all good\r\x1b[2K\u{202E}";
        let m = message(forged, &none(), MESSAGE_BYTES);
        assert!(
            !m.contains('\n')
                && !m.contains('\r')
                && !m.contains('\x1b')
                && !m.contains('\u{202E}'),
            "{m}"
        );
        assert!(m.contains("\\u{a}") && m.contains("\\u{1b}"), "{m}");
        let s = snippet(forged.as_bytes(), &none());
        assert!(!s.contains('\x1b') && !s.contains('\u{202E}'), "{s}");
    }

    #[test]
    fn messages_are_bounded_at_a_character_boundary() {
        let long = "é".repeat(5000);
        let m = message(&long, &none(), MESSAGE_BYTES);
        assert!(m.len() <= MESSAGE_BYTES + '…'.len_utf8(), "{}", m.len());
        assert!(m.ends_with('…'));
    }

    /// How a server may write a secret in a body. Each is written here by hand, apart from
    /// the code under test (`spellings_of`, the decoders), so that a test cannot agree with
    /// a bug in them.
    #[derive(Clone, Copy, Debug)]
    enum Encoding {
        Raw,
        /// As serde_json writes a string.
        Json,
        /// Every character but ASCII letters and digits as `\uxxxx` (Rails, Python).
        JsonAscii {
            upper: bool,
        },
        /// serde_json, with `/` as `\/` (PHP).
        JsonSlash,
        /// `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`.
        HtmlNamed,
        /// `&#38;` or `&#x26;` for the same five.
        HtmlNumeric {
            hex: bool,
        },
        /// Every byte but ASCII letters and digits as `%XX`; a space as `+` when `plus`.
        Percent {
            upper: bool,
            plus: bool,
        },
    }

    fn encode(secret: &str, encoding: Encoding) -> String {
        let mut out = String::new();
        match encoding {
            Encoding::Raw => out.push_str(secret),
            Encoding::Json => {
                let quoted = serde_json::to_string(secret).unwrap();
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
            Encoding::JsonSlash => {
                let quoted = serde_json::to_string(secret).unwrap();
                out.push_str(&quoted[1..quoted.len() - 1].replace('/', "\\/"));
            }
            Encoding::JsonAscii { upper } => {
                for c in secret.chars() {
                    if c.is_ascii_alphanumeric() {
                        out.push(c);
                        continue;
                    }
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        let hex = format!("{unit:04x}");
                        out.push_str("\\u");
                        out.push_str(&if upper { hex.to_uppercase() } else { hex });
                    }
                }
            }
            Encoding::HtmlNamed | Encoding::HtmlNumeric { .. } => {
                for c in secret.chars() {
                    let named = match c {
                        '&' => "&amp;",
                        '<' => "&lt;",
                        '>' => "&gt;",
                        '"' => "&quot;",
                        '\'' => "&apos;",
                        c => {
                            out.push(c);
                            continue;
                        }
                    };
                    match encoding {
                        Encoding::HtmlNumeric { hex: true } => {
                            out.push_str(&format!("&#x{:x};", u32::from(c)))
                        }
                        Encoding::HtmlNumeric { hex: false } => {
                            out.push_str(&format!("&#{};", u32::from(c)))
                        }
                        _ => out.push_str(named),
                    }
                }
            }
            Encoding::Percent { upper, plus } => {
                for byte in secret.bytes() {
                    if byte.is_ascii_alphanumeric() {
                        out.push(char::from(byte));
                    } else if byte == b' ' && plus {
                        out.push('+');
                    } else if upper {
                        out.push_str(&format!("%{byte:02X}"));
                    } else {
                        out.push_str(&format!("%{byte:02x}"));
                    }
                }
            }
        }
        out
    }

    fn encoding() -> impl Strategy<Value = Encoding> {
        prop_oneof![
            Just(Encoding::Raw),
            Just(Encoding::Json),
            any::<bool>().prop_map(|upper| Encoding::JsonAscii { upper }),
            Just(Encoding::JsonSlash),
            Just(Encoding::HtmlNamed),
            any::<bool>().prop_map(|hex| Encoding::HtmlNumeric { hex }),
            (any::<bool>(), any::<bool>())
                .prop_map(|(upper, plus)| Encoding::Percent { upper, plus }),
        ]
    }

    /// Where the encoded secret sits: in a JSON error (whole, or cut short), in a query string,
    /// in a web page.
    fn bodies(text: &str) -> [String; 4] {
        let json = format!(r#"{{"error": "{text}", "detail": "x"}}"#);
        let cut = json[..json.len() - 14].to_string();
        [
            json,
            cut,
            format!("login?password={text}&next=/"),
            format!("<html><body><p>{text}</p></body></html>"),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: crate::core::proptest_cases(),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Any secret of 4+ characters, written any way a server writes text, anywhere in a
        /// body, never survives a snippet or a message, as itself or as it was written.
        #[test]
        fn a_known_secret_never_survives(
            secret in "\\PC{4,24}",
            encoding in encoding(),
            // No `\`, `%` or `&` around it: one would join the first escape of the encoded
            // secret and change what it says (`\` + `n…` is a newline, not an `n`).
            before in "[^\\s\\p{C}\\\\%&]{0,16}",
            after in "[^\\s\\p{C}\\\\%&]{0,16}",
        ) {
            // What the scrubber writes in its place cannot count as the secret.
            prop_assume!(!"[redacted]…".contains(secret.as_str()) && !WITHHELD.contains(secret.as_str()));
            let known = Known::new([secret.as_str()]);
            let encoded = encode(&secret, encoding);
            for body in bodies(&format!("{before}{encoded}{after}")) {
                for shown in [snippet(body.as_bytes(), &known), message(&body, &known, MESSAGE_BYTES)] {
                    prop_assert!(!shown.contains(&secret), "{:?} in {:?} → {:?}", secret, body, shown);
                    prop_assert!(!shown.contains(&encoded), "{:?} in {:?} → {:?}", encoded, body, shown);
                }
            }
        }

        #[test]
        fn output_has_no_controls_and_is_bounded(text in "\\PC{0,64}|[\\x00-\\x1f\\u{200b}-\\u{202e}a ]{0,64}") {
            let m = message(&text, &none(), 16);
            prop_assert!(!m.chars().any(char::is_control));
            prop_assert!(m.len() <= 16 + '…'.len_utf8());
            let s = snippet(text.as_bytes(), &none());
            prop_assert!(!s.chars().any(char::is_control));
        }
    }
}
