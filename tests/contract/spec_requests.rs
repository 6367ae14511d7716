//! Every request the facade sends validates against its operation's spec (method, path
//! parameters, body), and so does every answer the fake gives it: each operation's driver run
//! against the fake, with resources made fresh for it.
#![cfg(feature = "fake")]

use apps_api::cloudflare::magic::MagicAppChanges;
use apps_api::cloudflare::sfu::RealtimeClient;
use apps_api::cloudflare::turn::TurnCredentials;
use apps_api::fake::FakeServer;
use apps_api::hover::HoverAppChanges;
use apps_api::operations::{Operation, ALL};
use serde_json::{json, Value};

use crate::drivers::{self, Handles, Ids};
use crate::{fresh, schema};

/// Fresh resources for `parameters` and the clients, with TURN credentials for the fresh key.
async fn fresh(fake: &FakeServer, parameters: &[&'static str]) -> (Handles, Ids) {
    let fresh = fresh::fresh(fake, parameters).await;
    let hover = fake.hover_client().unwrap();
    let realtime = fake.realtime_base_url();
    let key = fresh.turn_key.map(|key| key.key);
    let turn_for = Box::new(move |id: &str| {
        let key = key.clone().expect("a fresh TURN key");
        TurnCredentials::builder(id, key)
            .base_url(realtime.clone())
            .build()
    });
    let (secret, realtime) = (fresh.app_secret, fake.realtime_base_url());
    let sfu_for = Box::new(move |app: &str| {
        let secret = secret.clone().expect("a fresh Calls app");
        RealtimeClient::builder(app, secret)
            .base_url(realtime.clone())
            .build()
    });
    let cf = fake.cloudflare_client().unwrap();
    (
        Handles::new(cf, hover.clone(), hover, turn_for, sfu_for),
        Ids(fresh.ids),
    )
}

/// What an SFU operation needs of its fresh session before it can succeed: an offer of the
/// SFU waiting for an answer (renegotiate), an established data channel transport (the data
/// channel calls).
async fn prepare(op: &Operation, handles: &Handles, ids: &Ids) {
    use apps_api::cloudflare::sfu::{DataChannelRequest, SessionDescription};
    use apps_api::operations as ops;
    let needs_transport = [
        ops::SFU_RENEGOTIATE.id,
        ops::SFU_DATACHANNELS_NEW.id,
        ops::SFU_DATACHANNELS_UPDATE.id,
        ops::SFU_DATACHANNELS_CLOSE.id,
    ];
    if !needs_transport.contains(&op.id) {
        return;
    }
    let session = handles
        .sfu(&ids["app_id"])
        .unwrap()
        .session(&ids["session_id"]);
    let events = DataChannelRequest::remote(&ids["session_id"], "server-events");
    let established = session.establish_data_channels(events, None).await.unwrap();
    assert!(established.requires_immediate_renegotiation);
    if op.id == ops::SFU_RENEGOTIATE.id {
        return;
    }
    let answer = SessionDescription::answer("v=0\r\ns=-\r\n");
    session.renegotiate(&answer).await.unwrap();
    if op.id == ops::SFU_DATACHANNELS_UPDATE.id {
        let chat = DataChannelRequest::local("chat");
        let added = session.add_data_channels(vec![chat]).await.unwrap();
        added.into_result().unwrap();
    }
}

#[tokio::test]
async fn every_request_and_answer_validates_against_the_spec() {
    let fake = FakeServer::start().await.unwrap();
    for driver in drivers::all() {
        let parameters: Vec<&'static str> = driver.op.parameters().collect();
        let (handles, ids) = fresh(&fake, &parameters).await;
        prepare(driver.op, &handles, &ids).await;
        (driver.run)(&handles, &ids)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", driver.op.id));
    }
    // Request shapes the drivers do not send.
    let parameters = ["account_id", "app_id", "account_app_id", "id"];
    let (handles, ids) = fresh(&fake, &parameters).await;
    let magic = handles.cf.magic(&ids["account_id"]);
    let magic_id = apps_api::MagicAppId::new(&ids["account_app_id"]);
    let calls = handles.cf.calls(&ids["account_id"]);
    calls
        .update(&apps_api::CallsAppId::new(&ids["app_id"]), Some("m"))
        .await
        .unwrap();
    let everything = MagicAppChanges::new()
        .name("m")
        .app_type("t")
        .hostnames(Vec::<String>::new());
    magic.update(&magic_id, &everything).await.unwrap();
    let subnets = MagicAppChanges::new().source_subnets(["198.51.100.0/24"]);
    magic.patch(&magic_id, &subnets).await.unwrap();
    let cleared = HoverAppChanges::new().name("m").clear_webhook_url();
    let hover_id = apps_api::HoverAppId::new(&ids["id"]);
    handles
        .hover
        .apps()
        .update(&hover_id, &cleared)
        .await
        .unwrap();

    let specs: std::collections::HashMap<&str, Value> = ALL
        .iter()
        .map(|op| {
            let text = std::fs::read_to_string(op.spec).unwrap();
            (op.spec, yaml_serde::from_str(&text).unwrap())
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for entry in fake.requests() {
        let op = Operation::by_id(entry.operation).unwrap();
        let (spec, template, method) = (&specs[op.spec], op.path, op.method);
        let here = format!("{} {}", entry.method, entry.path);
        assert_eq!(entry.method, method, "{here}");
        // Path parameters: the path, segment by segment, against the template.
        let path = entry.path.strip_prefix(op.base_path).unwrap();
        let (segments, parts): (Vec<&str>, Vec<&str>) =
            (path.split('/').collect(), template.split('/').collect());
        assert_eq!(segments.len(), parts.len(), "{here} vs {template}");
        for (segment, part) in segments.iter().zip(&parts) {
            match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => {
                    let schema = schema::path_parameter(spec, template, name);
                    let here = format!("{here}: {name}");
                    schema::check_example(spec, schema, &json!(segment), &here);
                }
                None => assert_eq!(segment, part, "{here}"),
            }
        }
        match schema::request_schema(spec, template, method) {
            Some(schema) => {
                let body = entry
                    .request
                    .as_ref()
                    .unwrap_or_else(|| panic!("{here}: no body"));
                schema::check_example(spec, schema, body, &format!("{here} request"));
            }
            None => assert!(entry.request.is_none(), "{here}: a body it does not take"),
        }
        match &entry.response {
            Some(answer) => {
                let schema = schema::response_schema(spec, template, method, entry.status);
                schema::check_example(spec, schema, answer, &format!("{here} answer"));
            }
            None => assert_eq!(entry.status, 204, "{here}: no JSON answer"),
        }
        seen.insert(entry.operation);
    }
    let all: std::collections::BTreeSet<&str> = ALL.iter().map(|op| op.id).collect();
    assert_eq!(seen, all, "every operation was sent");
}
