use super::*;
use std::collections::HashMap;

fn servers(json: serde_json::Value) -> IceServers {
    let answer: rt::TurnIceServers = serde_json::from_value(json).unwrap();
    IceServers {
        ice_servers: ice_servers(answer),
        expires_at: DateTime::UNIX_EPOCH,
    }
}

fn documented() -> IceServers {
    servers(serde_json::json!({"iceServers": [
        {"urls": ["stun:stun.cloudflare.com:3478", "stun:stun.cloudflare.com:53"]},
        {"urls": [
            "turn:turn.cloudflare.com:3478?transport=udp",
            "turn:turn.cloudflare.com:53?transport=udp",
            "turns:turn.cloudflare.com:5349?transport=tcp",
            "turns:turn.cloudflare.com:443?transport=tcp"
        ], "username": "u5ern4me", "credential": "cr3dent1al"}
    ]}))
}

#[test]
fn serialises_to_exactly_an_rtc_configuration() {
    let json = serde_json::to_value(documented()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"iceServers": [
            {"urls": ["stun:stun.cloudflare.com:3478", "stun:stun.cloudflare.com:53"]},
            {"urls": [
                "turn:turn.cloudflare.com:3478?transport=udp",
                "turn:turn.cloudflare.com:53?transport=udp",
                "turns:turn.cloudflare.com:5349?transport=tcp",
                "turns:turn.cloudflare.com:443?transport=tcp"
            ], "username": "u5ern4me", "credential": "cr3dent1al"}
        ]})
    );
}

#[test]
fn debug_redacts_username_and_credential() {
    let shown = format!("{:?}", documented());
    assert!(
        !shown.contains("u5ern4me") && !shown.contains("cr3dent1al"),
        "{shown}"
    );
    assert!(shown.contains("turn.cloudflare.com"));
}

#[test]
fn port_53_urls_can_be_left_out() {
    let json = serde_json::to_value(documented().without_port_53()).unwrap();
    let urls: Vec<&str> = json["iceServers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["urls"].as_array().unwrap())
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            "stun:stun.cloudflare.com:3478",
            "turn:turn.cloudflare.com:3478?transport=udp",
            "turns:turn.cloudflare.com:5349?transport=tcp",
            "turns:turn.cloudflare.com:443?transport=tcp"
        ]
    );
    let only_53 = servers(serde_json::json!({"iceServers": [{"urls": ["stun:[2001:db8::1]:53"]}]}));
    assert!(only_53.without_port_53().ice_servers.is_empty());
    assert_eq!(
        port_of("turn:[2001:db8::1]:3478?transport=udp"),
        Some("3478")
    );
    assert_eq!(port_of("stun:stun.example.com"), None);
}

/// A server that lies hands the browser only STUN and TURN URLs; `urls` as one string
/// (which `RTCIceServer` allows) is a list of one.
#[test]
fn only_stun_and_turn_urls_reach_the_browser() {
    let ice = servers(serde_json::json!({"iceServers": [
        {"urls": ["javascript:alert(1)", "http://evil/", "STUN:stun.example.com:3478",
                  "data:text/html,x", "turns:turn.example.com:443", "stuns:s.example"]},
        {"urls": "turn:turn.example.com:3478", "username": "u", "credential": "c"},
        {"urls": "https://evil.example/"},
        {"urls": []},
        {"urls": ["turn:x</script><script>alert(1)</script>", "turn:", "stun:a b",
                  "turn:h:99999", "turn:h:1:2", "stun:h?transport=udp",
                  "turn:h?transport=sctp", "turn:[::1", "turn:[zz::1]:3478",
                  "turn:h\u{2028}x", &format!("turn:{}", "a".repeat(300))]},
        {"urls": ["turn:[2001:db8::1]:3478?transport=UDP", "turns:h.example:443?transport=tcp"],
         "username": "u", "credential": "c"},
        {"urls": ["turn:ok.example"], "username": "</script>", "credential": "c"},
        {"urls": ["turn:ok.example"], "username": "u", "credential": "c\nd"},
    ]}));
    let urls: Vec<Vec<&str>> = ice
        .ice_servers
        .iter()
        .map(|s| s.urls.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        urls,
        [
            vec![
                "STUN:stun.example.com:3478",
                "turns:turn.example.com:443",
                "stuns:s.example"
            ],
            vec!["turn:turn.example.com:3478"],
            vec![
                "turn:[2001:db8::1]:3478?transport=UDP",
                "turns:h.example:443?transport=tcp"
            ],
        ]
    );
}

#[test]
fn the_username_names_the_credential_for_revocation() {
    let username = documented().username().unwrap();
    assert_eq!(username.as_str(), "u5ern4me");
    // It identifies the allocation: shown only through `as_str`.
    assert_eq!(
        format!("{username} {username:?}"),
        "[redacted] TurnUsername([redacted])"
    );
}

#[test]
fn ttl_is_checked_before_sending() {
    assert_eq!(ttl_seconds(Duration::from_secs(1)).unwrap(), 1);
    assert_eq!(ttl_seconds(Duration::from_millis(1500)).unwrap(), 2);
    assert_eq!(ttl_seconds(MAX_TTL).unwrap(), 172_800);
    for bad in [
        Duration::ZERO,
        MAX_TTL + Duration::from_millis(1),
        Duration::MAX,
    ] {
        assert!(
            matches!(ttl_seconds(bad), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn env_names_what_is_missing() {
    let from = |vars: &[(&str, &str)]| {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        builder_from(|name| Ok(map.get(name).cloned()))
    };
    let message = |r: Result<TurnCredentialsBuilder, Error>| match r {
        Err(Error::Config(m)) => m,
        other => panic!("{other:?}"),
    };
    assert!(message(from(&[])).contains("CLOUDFLARE_TURN_KEY_ID"));
    assert!(message(from(&[("CLOUDFLARE_TURN_KEY_ID", "k")])).contains("CLOUDFLARE_TURN_KEY "));
    let key_id = "2a95132c15732412d22c1476fa83f27a";
    let client = from(&[
        ("CLOUDFLARE_TURN_KEY_ID", key_id),
        ("CLOUDFLARE_TURN_KEY", "turn-key-token-value"),
        ("CLOUDFLARE_REALTIME_BASE_URL", "http://127.0.0.1:1/v1"),
    ])
    .unwrap()
    .build()
    .unwrap();
    assert!(!format!("{client:?}").contains("turn-key-token-value"));
    let insecure = from(&[
        ("CLOUDFLARE_TURN_KEY_ID", key_id),
        ("CLOUDFLARE_TURN_KEY", "t"),
        ("CLOUDFLARE_REALTIME_BASE_URL", "http://rtc.example.com/v1"),
    ])
    .unwrap()
    .build();
    assert!(matches!(insecure, Err(Error::Config(m)) if m.contains("cleartext")));
    assert!(matches!(
        TurnCredentials::new("../x", "t"),
        Err(Error::InvalidArgument(_))
    ));
}
