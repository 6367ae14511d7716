//! Text with its escapes undone, the ways a body can escape a secret: HTML entities,
//! percent-encoding, JSON string escapes. Each view is lenient: what is not an escape stays as
//! it is.

/// `text` as each decoder reads it.
pub(super) fn views(text: &str) -> [String; 3] {
    [
        html_unescape(text),
        percent_decode(text),
        json_unescape(text),
    ]
}

/// `text` with HTML entities decoded: every named entity of HTML5 and numeric ones.
pub(super) fn html_unescape(text: &str) -> String {
    html_escape::decode_html_entities(text).into_owned()
}

/// `text` with `%XX` (either case) decoded and `+` read as a space; bytes that do not decode
/// to UTF-8 are replaced.
pub(super) fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// `text` with JSON string escapes undone (`\"`, `\\`, `\/`, `\n`, `\uXXXX` with surrogate
/// pairs, …), wherever they are.
pub(super) fn json_unescape(text: &str) -> String {
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
