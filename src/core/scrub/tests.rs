//! The scrubber's tests: each spelling of a secret written out by hand with what it comes to,
//! and properties over independent encoders.

use super::unescape::{html_unescape, json_unescape, percent_decode};
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
        ("pa/ss.word", "<p>pa&sol;ss&period;word</p>", W, W),
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
             m&verylongentityname;n&o&sol;p&period;q&lowbar;"
        ),
        "a&b<c>d\"e'f'g'h'i&bogus;j&k&#xZZ;l&#1114112;m&verylongentityname;n&o/p.q_"
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
        !m.contains('\n') && !m.contains('\r') && !m.contains('\x1b') && !m.contains('\u{202E}'),
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
        (any::<bool>(), any::<bool>()).prop_map(|(upper, plus)| Encoding::Percent { upper, plus }),
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
    #![proptest_config(crate::core::proptest_config())]

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

/// Values of secret-named keys are redacted inside arrays too, at any depth.
#[test]
fn secret_keys_inside_arrays_are_redacted() {
    let body = br#"{"items":[{"token":"abc1"},[{"secret":"def2"}]],"name":"n"}"#;
    let shown = snippet(body, &none());
    assert_eq!(
        shown,
        r#"{"items":[{"token":"[redacted]"},[{"secret":"[redacted]"}]],"name":"n"}"#
    );
    assert_eq!(redacted_body(body, &none()), shown);
}

/// The fake's request log: secret-named values redacted without knowing any secret.
#[cfg(feature = "fake")]
#[test]
fn the_request_log_loses_secret_named_values() {
    let mut value = serde_json::json!({"sdp": "v=0", "list": [{"password": "p"}], "n": 1});
    redact_secret_keys(&mut value);
    assert_eq!(
        value,
        serde_json::json!({"sdp": "[redacted]", "list": [{"password": "[redacted]"}], "n": 1})
    );
}

/// A snippet is cut only past 200 characters, and a body is read as cut only past 64 KiB.
#[test]
fn snippets_are_cut_only_past_their_limits() {
    let exactly = format!("ab{}", " ab".repeat(66));
    assert_eq!(exactly.chars().count(), SNIPPET_CHARS);
    assert_eq!(snippet(exactly.as_bytes(), &none()), exactly);
    let longer = format!("{exactly}c");
    assert_eq!(snippet(longer.as_bytes(), &none()), format!("{exactly}…"));
    // A body of exactly 64 KiB was not cut: its last word (8 token characters, under the 24 of
    // an unknown token) is a word, not the start of something cut there.
    let mut body = " ".repeat(SNIPPET_INPUT_BYTES - 8).into_bytes();
    body.extend_from_slice(b"abcdefgh");
    assert_eq!(snippet(&body, &none()), "abcdefgh");
    let mut cut = body.clone();
    cut.push(b'i');
    assert_eq!(
        snippet(&cut, &none()),
        "[redacted]",
        "a longer body was cut"
    );
}

/// A JWT in a header value is masked although nothing else in it needs decoding.
#[test]
fn a_jwt_in_a_header_value_is_masked() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlc2lnbmF0dXJl";
    let shown = header_value(&format!("ray {jwt}"), &Known::new(["unrelated-secret"]));
    assert!(!shown.contains("eyJzdWIi"), "{shown}");
}

/// A body cut at 64 KiB loses the token it ends in, `-`, `_` and `.` included, and only that;
/// a run of 24 token characters is masked anywhere, whatever mix of them it is.
#[test]
fn the_token_a_cut_body_ends_in_is_masked_and_only_it() {
    let tail = "ab-cd_ef.gh";
    // The words sit just before the tail, so that what is kept of the body is seen whole.
    let words = "hi hello ";
    let padding = " ".repeat(SNIPPET_INPUT_BYTES - words.len() - tail.len());
    let mut body = format!("{padding}{words}{tail}").into_bytes();
    assert_eq!(body.len(), SNIPPET_INPUT_BYTES);
    assert_eq!(
        snippet(&body, &none()),
        format!("hi hello {tail}"),
        "not cut"
    );
    body.extend_from_slice(b"ij");
    assert_eq!(snippet(&body, &none()), "hi hello [redacted]");
    for run in [
        "abcdefghij-klmnopqrst-uvwxyz",
        "abcdefghij_klmnopqrst_uvwxyz",
        "abcdefghij.klmnopqrst.uvwxyz",
    ] {
        assert_eq!(
            snippet(format!("x {run} y").as_bytes(), &none()),
            "x [redacted] y",
            "{run}"
        );
    }
}
