//! The tour's Realtime SFU step, with the Calls app the tour just created (its secret is the
//! SFU's bearer): two sessions, a pull of a track nobody publishes (a per-item failure inside an
//! HTTP 200), the session's state, a close. No step needs an SDP, so it runs on the live API as
//! on the fake; `cargo run --example sfu` shows a whole call with offers and answers.

use apps_api::cloudflare::sfu::{CloseTracks, NewTracks, RealtimeClient, TrackRequest};
use apps_api::{CallsAppId, Error, Secret};

use super::Answers;

pub(crate) async fn sfu_tour(
    app: &CallsAppId,
    secret: &Secret,
    realtime_base_url: Option<&str>,
    answers: &Answers,
) -> Result<(), Error> {
    let mut builder =
        RealtimeClient::builder(app.clone(), secret.clone()).on_response(answers.hook());
    if let Some(url) = realtime_base_url {
        builder = builder.base_url(url);
    }
    let sfu = builder.build()?;
    let new = "/apps/{app_id}/sessions/new";
    let session = "/apps/{app_id}/sessions/{session_id}";

    let publisher = sfu.create_session().await?;
    answers.step(
        "session",
        "POST",
        new,
        &[("id", publisher.session_id.to_string())],
    );
    let viewer = sfu.create_session().await?;
    answers.step(
        "session",
        "POST",
        new,
        &[("id", viewer.session_id.to_string())],
    );
    let viewer = sfu.session(&viewer.session_id);

    // Nobody publishes "mic": the pull fails for that item, inside a 200.
    let mic = TrackRequest::remote(&publisher.session_id, "mic").kind("audio");
    let pulled = viewer.add_tracks(&NewTracks::new([mic])).await?;
    let failed: Vec<String> = pulled
        .tracks
        .failed()
        .iter()
        .map(|f| format!("{}:{}", f.request.track_name, f.code))
        .collect();
    answers.step(
        "pull",
        "POST",
        &format!("{session}/tracks/new"),
        &[
            ("pulled", pulled.tracks.succeeded().len().to_string()),
            ("failed", failed.join(",")),
        ],
    );

    let state = viewer.state().await?;
    answers.step(
        "state",
        "GET",
        session,
        &[
            ("tracks", state.tracks.len().to_string()),
            ("data_channels", state.data_channels.len().to_string()),
        ],
    );

    let closed = viewer.close_tracks(&["0"], &CloseTracks::Force).await?;
    let outcomes: Vec<String> = closed
        .tracks
        .succeeded()
        .iter()
        .map(|(mid, how)| format!("{mid}:{how:?}"))
        .collect();
    answers.step(
        "close",
        "PUT",
        &format!("{session}/tracks/close"),
        &[("mids", outcomes.join(","))],
    );
    Ok(())
}
