//! SFU batches over arbitrary answers: whatever items a 200 lists (names the request has or
//! not, empty `mid`s, error codes, repeats, extras, gaps), a batch accounts for every request item
//! exactly once, as a success or a failure with a code; nothing panics.

use std::sync::{Arc, Mutex};

use apps_api::cloudflare::sfu::{Closed, NewTracks, RealtimeClient, TrackRequest};
use apps_api::test_util::{json_response, Responder};
use proptest::prelude::*;
use serde_json::{json, Value};

const NAMES: [&str; 4] = ["mic", "cam", "screen", ""];
const CODES: [&str; 4] = [
    "internal_error",
    "close_track_error",
    "not_found_track_error",
    "",
];

fn item() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(0..NAMES.len()),
        proptest::option::of(prop_oneof![Just(String::new()), "[0-9]{1,2}"]),
        proptest::option::of(0..CODES.len()),
        proptest::option::of(any::<i64>()),
    )
        .prop_map(|(name, mid, code, id)| {
            let mut item = serde_json::Map::new();
            if let Some(name) = name {
                item.insert("trackName".into(), json!(NAMES[name]));
            }
            if let Some(mid) = mid {
                item.insert("mid".into(), json!(mid));
            }
            if let Some(code) = code {
                item.insert("errorCode".into(), json!(CODES[code]));
            }
            if let Some(id) = id {
                item.insert("id".into(), json!(id));
            }
            Value::Object(item)
        })
}

fn client(answer: Arc<Mutex<String>>) -> RealtimeClient {
    RealtimeClient::builder("2a95132c15732412d22c1476fa83f27a", "fuzz-sfu-secret")
        .rate_budget(None)
        .responder(Responder::new(move |_| {
            json_response(200, answer.lock().unwrap().clone())
        }))
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: super::cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_track_of_a_batch_is_accounted_for_once(
        asked in proptest::collection::vec(0..3usize, 1..5),
        items in proptest::collection::vec(item(), 0..8),
        renegotiate in proptest::option::of(any::<bool>()),
    ) {
        let answer = Arc::new(Mutex::new(String::new()));
        let sfu = client(answer.clone());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let tracks: Vec<TrackRequest> = asked
            .iter()
            .enumerate()
            .map(|(i, n)| TrackRequest::local(i.to_string(), NAMES[*n]))
            .collect();
        let mids: Vec<String> = (0..asked.len()).map(|i| i.to_string()).collect();
        let mids: Vec<&str> = mids.iter().map(String::as_str).collect();
        let mut body = json!({"tracks": items, "dataChannels": items});
        if let Some(flag) = renegotiate {
            body["requiresImmediateRenegotiation"] = json!(flag);
        }
        *answer.lock().unwrap() = body.to_string();
        let session = sfu.session("s1");
        let added = runtime.block_on(session.add_tracks(&NewTracks::new(tracks.clone()))).unwrap();
        prop_assert_eq!(added.requires_immediate_renegotiation, renegotiate == Some(true));
        let (done, failed) = added.tracks.into_parts();
        let mut back: Vec<&TrackRequest> = done.iter().map(|(q, _)| q).collect();
        back.extend(failed.iter().map(|f| &f.request));
        prop_assert_eq!(back.len(), tracks.len());
        for track in &tracks {
            let asked = tracks.iter().filter(|t| *t == track).count();
            prop_assert_eq!(back.iter().filter(|t| **t == track).count(), asked);
        }
        // A close: every mid back once; `close_track_error` is closed, never failed.
        let closed = runtime
            .block_on(session.close_tracks(&mids, &apps_api::cloudflare::sfu::CloseTracks::Force))
            .unwrap();
        prop_assert_eq!(closed.tracks.succeeded().len() + closed.tracks.failed().len(), mids.len());
        for failure in closed.tracks.failed() {
            prop_assert_ne!(failure.code.as_str(), "close_track_error");
        }
        prop_assert!(closed.tracks.succeeded().iter().all(|(_, c)| matches!(c, Closed::Closed | Closed::AlreadyClosed)));
        // Data channels: a success has an ID in range, from an item without an error code.
        let channels = (0..asked.len())
            .map(|i| apps_api::cloudflare::sfu::DataChannelRequest::local(format!("c{i}")))
            .collect();
        let batch = runtime.block_on(session.add_data_channels(channels)).unwrap();
        prop_assert_eq!(batch.succeeded().len() + batch.failed().len(), asked.len());
    }
}
