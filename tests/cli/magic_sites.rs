//! `apps-api magic sites`, `magic site-apps …`, `magic usage` and `magic delete`'s refusal of
//! an app a site still uses, against the fake.

use super::{fake, keys, run};

const SITE: &str = "5e5b1e0d1a5a4c4c8b1f0e6e3b3c9d1a";

#[tokio::test]
async fn site_apps_usage_and_a_delete_that_waits_for_force() {
    let (fake, env) = fake().await;
    let sites = run(&env, &["magic", "sites", "--json"]).await;
    assert_eq!(sites.code, 0, "{}", sites.stderr);
    let sites = sites.json();
    assert_eq!(sites[0]["id"], SITE);
    assert_eq!(
        keys(&sites[0]),
        [
            "connector_id",
            "description",
            "ha_mode",
            "id",
            "name",
            "secondary_connector_id"
        ]
    );
    let app = run(
        &env,
        &[
            "magic",
            "create",
            "--name",
            "Dash",
            "--type",
            "Dev",
            "--hostname",
            "d.example",
            "--json",
        ],
    )
    .await
    .json()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let created = run(
        &env,
        &[
            "magic",
            "site-apps",
            "create",
            SITE,
            "--account-app",
            &app,
            "--breakout",
            "true",
            "--preferred-wan",
            "wan-1",
            "--json",
        ],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let config = created.json();
    assert_eq!(
        keys(&config),
        [
            "app",
            "breakout",
            "id",
            "preferred_wans",
            "priority",
            "site_id"
        ]
    );
    assert_eq!(
        config["app"],
        serde_json::json!({"kind": "account", "id": app})
    );
    assert_eq!(config["preferred_wans"], serde_json::json!(["wan-1"]));
    let config_id = config["id"].as_str().unwrap().to_string();

    // A rule broken is refused before sending, with the usage exit code.
    let bad = run(
        &env,
        &[
            "magic",
            "site-apps",
            "create",
            SITE,
            "--account-app",
            &app,
            "--priority",
            "2",
        ],
    )
    .await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("priority"), "{}", bad.stderr);
    let both = run(
        &env,
        &[
            "magic",
            "site-apps",
            "create",
            SITE,
            "--account-app",
            &app,
            "--managed-app",
            "cloudflare",
            "--priority",
            "1",
        ],
    )
    .await;
    assert_eq!(both.code, 2, "{}", both.stderr);

    let listed = run(&env, &["magic", "site-apps", "list", SITE, "--json"])
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let usage = run(&env, &["magic", "usage", &app, "--json"]).await.json();
    assert_eq!(usage[0]["site"]["id"], SITE);
    assert_eq!(usage[0]["config"]["id"], config_id.as_str());

    // In use: refused, naming the site and the config, and the app is still there.
    let refused = run(&env, &["magic", "delete", &app]).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    for expected in ["headquarters", SITE, &config_id, "--force"] {
        assert!(
            refused.stderr.contains(expected),
            "{expected}: {}",
            refused.stderr
        );
    }
    let apps = fake
        .cloudflare_client()
        .unwrap()
        .magic(super::ACCOUNT)
        .list()
        .await
        .unwrap();
    assert!(apps
        .iter()
        .any(|item| item.as_account_app().is_some_and(|a| a.id.as_str() == app)));

    // Switched to a managed app by a patch, the account app is free to go.
    let patched = run(
        &env,
        &[
            "magic",
            "site-apps",
            "patch",
            SITE,
            &config_id,
            "--managed-app",
            "cloudflare",
            "--json",
        ],
    )
    .await;
    assert_eq!(patched.code, 0, "{}", patched.stderr);
    assert_eq!(
        patched.json()["app"],
        serde_json::json!({"kind": "managed", "id": "cloudflare"})
    );
    let deleted = run(&env, &["magic", "delete", &app]).await;
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    let usage = run(
        &env,
        &["magic", "usage", "cloudflare", "--managed", "--json"],
    )
    .await
    .json();
    assert_eq!(usage.as_array().unwrap().len(), 1);
    let gone = run(&env, &["magic", "site-apps", "delete", SITE, &config_id]).await;
    assert_eq!(gone.code, 0, "{}", gone.stderr);
    let missing = run(&env, &["magic", "site-apps", "delete", SITE, &config_id]).await;
    assert_eq!(missing.code, 4, "{}", missing.stderr);
}

#[tokio::test]
async fn force_deletes_an_app_in_use_and_its_configs_go_with_it() {
    let (fake, env) = fake().await;
    let app = run(
        &env,
        &[
            "magic",
            "create",
            "--name",
            "A",
            "--type",
            "T",
            "--hostname",
            "a.example",
            "--json",
        ],
    )
    .await
    .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let created = run(
        &env,
        &[
            "magic",
            "site-apps",
            "create",
            SITE,
            "--account-app",
            &app,
            "--priority",
            "1",
        ],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let forced = run(&env, &["magic", "delete", &app, "--force"]).await;
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    // The fake's ASSUMPTION: the configs that pointed at it are deleted with it.
    let listed = run(&env, &["magic", "site-apps", "list", SITE, "--json"])
        .await
        .json();
    assert_eq!(listed, serde_json::json!([]));
    let cf = fake.cloudflare_client().unwrap();
    let app = apps_api::cloudflare::magic::SiteApp::Account(app.as_str().into());
    assert!(cf
        .magic(super::ACCOUNT)
        .configs_using(&app)
        .await
        .unwrap()
        .is_empty());
}
