//! The site config bodies' checks, and reading a config's app.

use super::*;

fn invalid(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(Error::InvalidArgument(why)) => why,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn a_create_is_checked_as_the_api_checks_it() {
    let app = MagicAppId::new("ac60d3d0435248289d446cedd870bcf4");
    assert!(invalid(NewAppConfig::new(app.clone()).to_request()).contains("breakout or priority"));
    for priority in [-1, 2, i64::MAX] {
        let why = invalid(
            NewAppConfig::new(app.clone())
                .priority(priority)
                .to_request(),
        );
        assert!(why.contains(&priority.to_string()), "{why}");
    }
    for config in [
        NewAppConfig::new(app.clone())
            .priority(1)
            .preferred_wans(["w"]),
        NewAppConfig::new(app.clone())
            .breakout(false)
            .preferred_wans(["w"]),
    ] {
        assert!(invalid(config.to_request()).contains("breakout set to true"));
    }
    assert!(invalid(
        NewAppConfig::new(app.clone())
            .breakout(true)
            .preferred_wans([""])
            .to_request()
    )
    .contains("WAN"));
    assert!(invalid(
        NewAppConfig::new(MagicAppId::new("a/b"))
            .breakout(true)
            .to_request()
    )
    .contains("Magic app ID"));
    assert!(invalid(
        NewAppConfig::new(SiteApp::Managed(String::new()))
            .priority(0)
            .to_request()
    )
    .contains("managed app ID"));
    let body = NewAppConfig::new(app.clone())
        .breakout(true)
        .priority(0)
        .preferred_wans(["w1", "w2"])
        .to_request()
        .unwrap();
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        serde_json::json!({"account_app_id": app.as_str(), "breakout": true, "priority": 0,
            "preferred_wans": ["w1", "w2"]})
    );
    let body = NewAppConfig::new(SiteApp::Managed("cloudflare".into())).priority(1);
    assert_eq!(
        serde_json::to_value(body.to_request().unwrap()).unwrap(),
        serde_json::json!({"managed_app_id": "cloudflare", "priority": 1})
    );
}

#[test]
fn a_change_sends_one_app_and_checks_breakout_against_what_it_replaces() {
    assert!(invalid(AppConfigChanges::new().to_request(false)).contains("at least one"));
    let wans = AppConfigChanges::new().preferred_wans(["w"]);
    // A merge leaves the config's breakout as it is: the API judges.
    assert!(wans.to_request(false).is_ok());
    // A replacement without breakout true has none; one that decides nothing is refused.
    let wans = wans.priority(0);
    assert!(invalid(wans.to_request(true)).contains("breakout set to true"));
    let app_only = AppConfigChanges::new().app(MagicAppId::new("a"));
    assert!(invalid(app_only.to_request(true)).contains("breakout or priority"));
    assert!(app_only.to_request(false).is_ok());
    let switch = AppConfigChanges::new().app(SiteApp::Managed("cloudflare".into()));
    assert_eq!(
        serde_json::to_value(switch.to_request(false).unwrap()).unwrap(),
        serde_json::json!({"managed_app_id": "cloudflare"})
    );
}

#[test]
fn a_config_names_exactly_one_app() {
    let config = |account: Option<&str>, managed: Option<&str>| gen::MagicAppConfig {
        id: "c".into(),
        site_id: "s".into(),
        account_app_id: account.map(Into::into),
        managed_app_id: managed.map(Into::into),
        breakout: None,
        priority: None,
        preferred_wans: None,
    };
    assert_eq!(
        AppConfig::try_from(config(Some("a"), None)).unwrap().app,
        SiteApp::Account(MagicAppId::new("a"))
    );
    assert_eq!(
        AppConfig::try_from(config(None, Some("m"))).unwrap().app,
        SiteApp::Managed("m".into())
    );
    assert!(AppConfig::try_from(config(None, None)).is_err());
    assert!(AppConfig::try_from(config(Some("a"), Some("m"))).is_err());
}
