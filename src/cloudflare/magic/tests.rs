use super::*;

#[test]
fn list_items_are_told_apart_by_their_id_key() {
    let decode = |json: &str| serde_json::from_str::<wire::MagicAppListItem>(json);
    let account = decode(r#"{"account_app_id": "a1", "name": "Dash", "type": "Dev", "hostnames": ["d.example.com"], "ip_subnets": null}"#).unwrap();
    assert!(matches!(
        MagicListItem::from(account),
        MagicListItem::Account(MagicApp { ref id, ref hostnames, ref ip_subnets, .. })
            if id.as_str() == "a1" && hostnames == &["d.example.com"] && ip_subnets.is_empty()
    ));
    let managed = decode(r#"{"managed_app_id": "cloudflare", "account_app_id": null, "source_subnets": ["192.0.2.0/24"]}"#).unwrap();
    assert!(matches!(
        MagicListItem::from(managed),
        MagicListItem::Managed(ManagedApp { ref id, ref source_subnets, .. })
            if id == "cloudflare" && source_subnets == &["192.0.2.0/24"]
    ));
    let both = decode(r#"{"account_app_id": "a1", "managed_app_id": "m1"}"#).unwrap();
    assert!(matches!(both, wire::MagicAppListItem::AccountApp(_)));
    let neither = decode(r#"{"name": "orphan"}"#).unwrap_err().to_string();
    assert!(
        neither.contains("neither `account_app_id` nor `managed_app_id`"),
        "{neither}"
    );
    assert!(decode(r#"{"account_app_id": 5}"#).is_err());
    assert!(decode(r#"{"managed_app_id": "m", "hostnames": "not a list"}"#).is_err());
}

/// The default body cap is sized from the largest answer these APIs give, a Magic list
/// (no pagination): a generous one must fit with room to spare.
#[test]
fn a_generous_magic_list_fits_under_the_default_cap() {
    let app = |i: usize, id_key: &str, subnets: usize| {
        serde_json::json!({
            id_key: format!("{i:032x}"),
            "name": format!("Application number {i} of a large enterprise account"),
            "type": "Development",
            "hostnames": (0..50).map(|h| format!("service-{h:03}.department-{i:04}.example-enterprise.com")).collect::<Vec<_>>(),
            "ip_subnets": (0..subnets).map(|n| format!("10.{}.{}.0/24", n % 256, i % 256)).collect::<Vec<_>>(),
            "source_subnets": (0..subnets / 2).map(|n| format!("192.168.{}.0/24", n % 256)).collect::<Vec<_>>(),
        })
    };
    let items: Vec<_> = (0..1_000)
        .map(|i| app(i, "account_app_id", 50))
        .chain((0..500).map(|i| app(i, "managed_app_id", 100)))
        .collect();
    let body = serde_json::json!({"success": true, "errors": [], "messages": [], "result": items});
    let size = body.to_string().len();
    // Measured: 6,778,333 bytes.
    assert!(
        size > 4_000_000,
        "the estimate should be generous, got {size}"
    );
    assert!(size < crate::DEFAULT_MAX_BODY_BYTES, "{size}");
    let decoded: gen::MagicAppListEnvelope = serde_json::from_value(body).unwrap();
    assert_eq!(decoded.result.unwrap().len(), 1_500);
}

#[test]
fn subnet_validation() {
    let ok = |s: &str| request_subnets("ip_subnets", &Some(vec![s.to_string()])).is_ok();
    for good in ["1.1.1.1/32", "192.0.2.0/24", "0.0.0.0/0", "10.0.0.0/8"] {
        assert!(ok(good), "{good}");
    }
    for bad in [
        "1.1.1.1",
        "1.1.1.1/33",
        "::1/128",
        "1.1.1/24",
        "a.b.c.d/1",
        "1.1.1.1/",
        "1.1.1.1/+1",
        " 1.1.1.1/32",
        "1.1.1.1/024",
        "10.0.0.0/08",
        "010.0.0.0/8",
        "2001:db8::/32",
    ] {
        assert!(!ok(bad), "{bad}");
    }
    // Source subnets take IPv6 too (an assumption: only ip_subnets is documented IPv4-only).
    for good in ["2001:db8::/32", "::/0", "192.0.2.0/24", "fe80::1/128"] {
        assert!(is_source_cidr(good), "{good}");
    }
    for bad in ["2001:db8::/129", "2001:db8::/032", "2001:db8::", "zz::/8"] {
        assert!(!is_source_cidr(bad), "{bad}");
    }
}

/// The spec's pattern and `is_ipv4_cidr` agree, on the prefixes and octets that tell
/// them apart (leading zeros above all).
#[test]
fn the_ipv4_pattern_and_the_check_agree() {
    let spec = include_str!("../../../spec/cloudflare-magic.yaml");
    let value: serde_json::Value = yaml_serde::from_str(spec).unwrap();
    let pattern = value["components"]["schemas"]["MagicIpv4Cidr"]["pattern"]
        .as_str()
        .unwrap();
    let schema = serde_json::json!({"type": "string", "pattern": pattern});
    let validator = jsonschema::validator_for(&schema).unwrap();
    for prefix in [
        "", "0", "00", "01", "08", "8", "9", "10", "29", "30", "32", "33", "99", "100", "+1", "-1",
        " 8",
    ] {
        for octet in [
            "0", "00", "01", "010", "10", "99", "199", "200", "249", "250", "255", "256",
        ] {
            let cidr = format!("{octet}.1.2.3/{prefix}");
            assert_eq!(
                validator.is_valid(&serde_json::json!(cidr)),
                is_ipv4_cidr(&cidr),
                "{cidr}"
            );
        }
    }
}

#[test]
fn create_needs_a_list_and_update_a_field() {
    assert!(matches!(
        NewMagicApp::new("a", "b").to_request(),
        Err(Error::InvalidArgument(_))
    ));
    assert!(NewMagicApp::new("a", "b")
        .hostnames(Vec::<String>::new())
        .to_request()
        .is_ok());
    assert!(matches!(
        MagicAppChanges::new().to_request(),
        Err(Error::InvalidArgument(_))
    ));
}

/// `==` and `Hash` agree on which site apps are the same app: an account app's ID whatever
/// its case, a managed app's exactly, never one of each kind.
#[test]
fn site_apps_are_the_same_app_by_eq_and_by_hash() {
    use std::collections::HashSet;
    let upper = SiteApp::Account(MagicAppId::new("AC60D3D0"));
    let lower = SiteApp::Account(MagicAppId::new("ac60d3d0"));
    assert_eq!(upper, lower);
    assert_eq!(HashSet::from([upper, lower]).len(), 1);
    let managed = |id: &str| SiteApp::Managed(id.to_string());
    assert_ne!(managed("Cloudflare"), managed("cloudflare"));
    assert_ne!(
        managed("ac60d3d0"),
        SiteApp::Account(MagicAppId::new("ac60d3d0"))
    );
    let apps = HashSet::from([
        managed("Cloudflare"),
        managed("cloudflare"),
        managed("ac60d3d0"),
    ]);
    assert_eq!(apps.len(), 3);
}
