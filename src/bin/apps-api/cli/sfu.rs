//! The Realtime SFU commands: `sfu session SESSION_ID` (a session's tracks and data channels,
//! what an operator debugging a call looks at) and `sfu new-session`. With a Calls app's own
//! secret, from the environment only (never argv, which every user of the machine can read).

use apps_api::cloudflare::sfu::{
    DataChannelState, RealtimeClient, SessionOptions, SessionState, Status, TrackState,
};
use apps_api::{CallsAppId, Error, Secret, SessionId};
use serde_json::{json, Value};

use super::args::{Global, Sfu};
use super::{output, Failure};

const TRACK_HEADERS: &[&str] = &[
    "LOCATION",
    "MID",
    "TRACK_NAME",
    "PUBLISHER_SESSION",
    "STATUS",
];
const CHANNEL_HEADERS: &[&str] = &["LOCATION", "NAME", "ID", "PUBLISHER_SESSION", "STATUS"];

/// A variable as the library's `from_env` reads it: unset or blank is `None`.
fn env(name: &str) -> Result<Option<String>, Error> {
    match std::env::var(name) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::Config(format!("{name} is not valid UTF-8")))
        }
    }
}

/// The SFU client of the app `--app-id` or `CLOUDFLARE_CALLS_APP_ID` names, with
/// `CLOUDFLARE_CALLS_APP_SECRET`, at `--base-url` or `CLOUDFLARE_REALTIME_BASE_URL`. Nothing is
/// sent. The secret is never printed: errors name only the variable.
fn realtime_client(app_id: Option<String>, global: &Global) -> Result<RealtimeClient, Error> {
    let app_id = match app_id {
        Some(id) => id,
        None => env("CLOUDFLARE_CALLS_APP_ID")?.ok_or_else(|| {
            Error::Config(
                "CLOUDFLARE_CALLS_APP_ID is not set (the Calls app's ID; or pass --app-id)".into(),
            )
        })?,
    };
    let app_id = CallsAppId::parse(app_id)?;
    let secret = env("CLOUDFLARE_CALLS_APP_SECRET")?.ok_or_else(|| {
        Error::Config(
            "CLOUDFLARE_CALLS_APP_SECRET is not set (the app's secret, shown once by `apps-api \
             calls create`)"
                .into(),
        )
    })?;
    let mut builder = RealtimeClient::builder(app_id, Secret::new(secret));
    let base_url = match &global.base_url {
        Some(url) => Some(url.clone()),
        None => env("CLOUDFLARE_REALTIME_BASE_URL")?,
    };
    if let Some(url) = base_url {
        builder = builder.base_url(url);
    }
    builder.build()
}

pub async fn sfu(command: Sfu, global: &Global) -> Result<(), Failure> {
    match command {
        Sfu::Session { session_id, app } => {
            // An ID that could leave its path segment is refused before anything else.
            let id = SessionId::parse(session_id)?;
            let sfu = realtime_client(app.app_id, global)?;
            let state = sfu.session(id).state().await?;
            print_state(global.json, &state);
        }
        Sfu::NewSession {
            correlation_id,
            third_party,
            app,
        } => {
            let sfu = realtime_client(app.app_id, global)?;
            let mut options = SessionOptions::new();
            if let Some(label) = correlation_id {
                options = options.correlation_id(label);
            }
            if third_party {
                options = options.third_party();
            }
            let created = sfu.create_session_with(&options).await?;
            if global.json {
                output::json(&json!({ "session_id": created.session_id }));
            } else {
                output::line(created.session_id.as_str());
            }
        }
    }
    Ok(())
}

/// A status as the API writes it (`active`, `inactive`, `initializing`, or the unknown text).
fn status(status: Option<&Status>) -> Option<String> {
    Some(match status? {
        Status::Active => "active".into(),
        Status::Inactive => "inactive".into(),
        Status::Initializing => "initializing".into(),
        Status::Other(text) => text.clone(),
        // A status a newer library knows: as it debugs.
        other => format!("{other:?}").to_lowercase(),
    })
}

fn session(id: Option<&SessionId>) -> Option<&str> {
    id.map(SessionId::as_str)
}

fn track_json(track: &TrackState) -> Value {
    json!({
        "location": track.location,
        "mid": track.mid,
        "track_name": track.track_name,
        "session_id": session(track.session_id.as_ref()),
        "status": status(track.status.as_ref()),
    })
}

fn channel_json(channel: &DataChannelState) -> Value {
    json!({
        "location": channel.location,
        "name": channel.name,
        "id": channel.id,
        "session_id": session(channel.session_id.as_ref()),
        "status": status(channel.status.as_ref()),
    })
}

fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_string()
}

fn track_row(track: &TrackState) -> Vec<String> {
    vec![
        or_dash(track.location.as_deref()),
        or_dash(track.mid.as_deref()),
        or_dash(track.track_name.as_deref()),
        or_dash(session(track.session_id.as_ref())),
        or_dash(status(track.status.as_ref()).as_deref()),
    ]
}

fn channel_row(channel: &DataChannelState) -> Vec<String> {
    vec![
        or_dash(channel.location.as_deref()),
        or_dash(channel.name.as_deref()),
        channel.id.map_or("-".into(), |id| id.to_string()),
        or_dash(session(channel.session_id.as_ref())),
        or_dash(status(channel.status.as_ref()).as_deref()),
    ]
}

/// `{"tracks": [...], "data_channels": [...]}` (every key present, `null` when the answer gave
/// no value), or two tables, each under its title.
fn print_state(as_json: bool, state: &SessionState) {
    if as_json {
        output::json(&json!({
            "tracks": state.tracks.iter().map(track_json).collect::<Vec<_>>(),
            "data_channels": state.data_channels.iter().map(channel_json).collect::<Vec<_>>(),
        }));
        return;
    }
    output::line("Tracks:");
    let rows: Vec<_> = state.tracks.iter().map(track_row).collect();
    output::table(TRACK_HEADERS, &rows);
    output::line("");
    output::line("Data channels:");
    let rows: Vec<_> = state.data_channels.iter().map(channel_row).collect();
    output::table(CHANNEL_HEADERS, &rows);
}
