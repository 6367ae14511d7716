//! Resources made fresh on the fake for an operation's path parameters, through the facade.

use std::collections::BTreeMap;
use std::time::Duration;

use apps_api::cloudflare::magic::{NewAppConfig, NewMagicApp, SiteApp};
use apps_api::cloudflare::turn_keys::CreatedTurnKey;
use apps_api::fake::FakeServer;
use apps_api::hover::NewHoverApp;

/// An ID for each path parameter asked for, each naming something that exists on the fake.
pub struct Fresh {
    /// The IDs, by the path parameter that takes them.
    pub ids: BTreeMap<&'static str, String>,
    /// The TURN key made for `key_id` (its token signs the data plane's requests).
    pub turn_key: Option<CreatedTurnKey>,
    /// The secret of the Calls app made for `app_id` (it signs the SFU's requests).
    pub app_secret: Option<apps_api::Secret>,
}

/// Makes what `parameters` name: a Calls app (`app_id`), a Magic app (`account_app_id`), a
/// Magic site (`site_id`, one the fake has) and an app config on it (`app_config_id`), a Hover
/// app (`id`), a TURN key (`key_id`) and a credential minted with it (`username`), an SFU
/// session of the Calls app (`session_id`).
pub async fn fresh(fake: &FakeServer, parameters: &[&'static str]) -> Fresh {
    let cf = fake.cloudflare_client().unwrap();
    let account = fake.account_id();
    let mut fresh = Fresh {
        ids: BTreeMap::new(),
        turn_key: None,
        app_secret: None,
    };
    // A username is minted with a key, a config made on a site: the key and the site first.
    let mut parameters = parameters.to_vec();
    parameters.sort_by_key(|p| matches!(*p, "username" | "app_config_id" | "session_id"));
    for parameter in parameters {
        let id = match parameter {
            "account_id" => account.to_string(),
            "app_id" => {
                let created = cf.calls(&account).create(None).await.unwrap();
                fresh.app_secret = Some(created.secret.clone());
                created.app.id.unwrap().to_string()
            }
            "account_app_id" => {
                let app = NewMagicApp::new("n", "t")
                    .hostnames(["h.example"])
                    .ip_subnets(["192.0.2.0/24"])
                    .source_subnets(["2001:db8::/32"]);
                cf.magic(&account)
                    .create(&app)
                    .await
                    .unwrap()
                    .id
                    .to_string()
            }
            "site_id" => {
                let sites = cf.magic(&account).sites().await.unwrap();
                sites[0].id.to_string()
            }
            "app_config_id" => {
                let site = apps_api::SiteId::new(&fresh.ids["site_id"]);
                let config = NewAppConfig::new(SiteApp::Managed("cloudflare".into())).priority(1);
                let made = cf.magic(&account).create_app_config(&site, &config).await;
                made.unwrap().id.to_string()
            }
            "id" => {
                let app = NewHoverApp::new("n", "com.example").webhook_url("https://x.example");
                let hover = fake.hover_client().unwrap();
                hover.apps().create(&app).await.unwrap().id.to_string()
            }
            "key_id" => {
                let key = cf.turn_keys(&account).create(Some("k")).await.unwrap();
                let id = key.turn_key.id.clone().unwrap().to_string();
                fresh.turn_key = Some(key);
                id
            }
            "username" => {
                let key = fresh
                    .turn_key
                    .as_ref()
                    .expect("a username is minted with a key");
                let minted = fake
                    .turn_credentials(key.turn_key.id.clone().unwrap(), key.key.clone())
                    .unwrap()
                    .ice_servers(Duration::from_secs(600))
                    .await
                    .unwrap();
                minted.username().unwrap().as_str().to_string()
            }
            "session_id" => {
                let app = &fresh.ids["app_id"];
                let secret = fresh
                    .app_secret
                    .clone()
                    .expect("a session is made in an app");
                let sfu = fake.realtime_client(app.as_str(), secret).unwrap();
                sfu.create_session().await.unwrap().session_id.to_string()
            }
            other => panic!("no fresh resource for {{{other}}}: make one here"),
        };
        fresh.ids.insert(parameter, id);
    }
    fresh
}
