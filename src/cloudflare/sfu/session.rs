//! One session's calls: its state, tracks, renegotiation and data channels, one mutation at a
//! time and paced.

use std::future::Future;
use std::sync::Arc;

use super::batch::{
    item_error, none_unasked, plain, settle, Batch, Closed, Failed, ItemError, Rules,
};
use super::channels::{
    channel_id, DataChannelAnswer, DataChannelRequest, EstablishedTransport, MAX_CHANNEL_ID,
};
use super::model::{refused, SdpType, SessionDescription, SessionState};
use super::tracks::{
    wire_tracks, CloseTracks, ClosedTracks, NewTracks, TrackAnswer, TrackRequest, TracksAnswer,
    MAX_TRACKS_PER_REQUEST,
};
use super::{Gate, RealtimeClient};
use crate::core::budget::Budgets;
use crate::core::error::ErrorBody;
use crate::core::error::Provider;
use crate::core::plan::{deadline_after, handle_limits, Limits, Planned};
use crate::core::run::Meta;
use crate::generated::sfu::types as wire;
use crate::operations as ops;
use crate::{Endpoint, Error, SessionId};

// When each may be sent again is its spec's `x-replay` (by its method when absent).
const SESSION_GET: Planned = Planned::new(&ops::SFU_SESSION_GET);
const TRACKS_NEW: Planned = Planned::new(&ops::SFU_TRACKS_NEW);
const RENEGOTIATE: Planned = Planned::new(&ops::SFU_RENEGOTIATE);
const TRACKS_CLOSE: Planned = Planned::new(&ops::SFU_TRACKS_CLOSE);
const TRACKS_UPDATE: Planned = Planned::new(&ops::SFU_TRACKS_UPDATE);
const DATACHANNELS_ESTABLISH: Planned = Planned::new(&ops::SFU_DATACHANNELS_ESTABLISH);
const DATACHANNELS_NEW: Planned = Planned::new(&ops::SFU_DATACHANNELS_NEW);
const DATACHANNELS_UPDATE: Planned = Planned::new(&ops::SFU_DATACHANNELS_UPDATE);
const DATACHANNELS_CLOSE: Planned = Planned::new(&ops::SFU_DATACHANNELS_CLOSE);

/// `op`, never sent twice if it carries an SDP offer: a close or an update is safe to send
/// again, but its offer would be stale once the first exchange finished.
fn with_offer(op: Planned, offer: bool) -> Planned {
    if offer {
        op.not_after_sent()
    } else {
        op
    }
}
/// One session of a [`RealtimeClient`]'s app: `client.session(id)`.
///
/// Its mutations (tracks, data channels, renegotiation) run one at a time, in call order, even
/// from clones and other handles of the same session; reads do not wait for them.
#[derive(Clone)]
pub struct Session {
    pub(super) client: RealtimeClient,
    pub(super) id: SessionId,
    pub(super) gate: Arc<Gate>,
    pub(super) budgets: Budgets,
    pub(super) limits: Limits,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("app_id", &self.client.inner.app_id)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Session {
    handle_limits!();

    /// The session's ID.
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// Runs one request of this session (on `api`, [`RealtimeClient::api`]) through its pace.
    pub(super) async fn send<T, E, F, Fut>(
        &self,
        api: &crate::generated::sfu::Client,
        make: F,
    ) -> Result<(T, Meta), Error>
    where
        E: ErrorBody,
        F: Fn() -> Fut,
        Fut: Future<
            Output = Result<progenitor_client::ResponseValue<T>, progenitor_client::Error<E>>,
        >,
    {
        crate::core::run::run_paced(api, &self.budgets, make).await
    }

    /// The operation with this handle's limits, its deadline fixed now, and this session's
    /// turn to mutate (waited for until that deadline).
    async fn turn(&self, op: Planned) -> Result<(Planned, tokio::sync::MutexGuard<'_, ()>), Error> {
        let op = op.with_limits(self.limits);
        let total = op
            .total
            .unwrap_or_else(|| self.client.inner.transport.total_timeout());
        let deadline = deadline_after(total);
        match tokio::time::timeout_at(deadline, self.gate.lock()).await {
            Ok(guard) => Ok((op.until(deadline), guard)),
            Err(_) => Err(Error::Timeout {
                endpoint: Box::new(Endpoint {
                    provider: Provider::Cloudflare,
                    operation: op.id(),
                    method: op.method(),
                    path: op.path().to_string(),
                }),
                after: total,
            }),
        }
    }

    /// What a request relayed as a caller wrote it (the proxy's path) runs as: `operation`'s
    /// replay rule (`offer`: the request carries an SDP offer), this handle's limits, and for
    /// a mutation the session's turn (held while the guard lives) and its deadline.
    #[cfg(feature = "proxy")]
    pub(super) async fn relayed(
        &self,
        operation: &'static crate::operations::Operation,
        offer: bool,
    ) -> Result<(Planned, Option<tokio::sync::MutexGuard<'_, ()>>), Error> {
        let op = with_offer(Planned::new(operation), offer);
        // A read does not wait for the session's turn.
        if operation.method == "GET" {
            return Ok((op.with_limits(self.limits), None));
        }
        let (op, turn) = self.turn(op).await?;
        Ok((op, Some(turn)))
    }

    pub(super) fn ids(&self) -> Result<(&str, &str), Error> {
        Ok((self.client.inner.app_id.segment()?, self.id.segment()?))
    }

    /// The session's tracks and data channels with their status (closed tracks included, as
    /// `inactive`). A read: it does not wait for the session's mutations.
    pub async fn state(&self) -> Result<SessionState, Error> {
        let (app, session) = self.ids()?;
        let op = SESSION_GET.with_limits(self.limits);
        let api = self.client.api(op);
        let (answer, meta) = self
            .send(&api, || api.sfu_session_get(app, session))
            .await?;
        self.client.refuse_error_code(
            &meta,
            answer.error_code.clone(),
            answer.error_description.clone(),
        )?;
        Ok(answer.into())
    }

    /// Publishes or pulls tracks (at most [`MAX_TRACKS_PER_REQUEST`]). Never sent twice: on
    /// per-item failures send the failed items again, alone.
    pub async fn add_tracks(&self, request: &NewTracks) -> Result<TracksAnswer, Error> {
        let (app, session) = self.ids()?;
        if let Some(offer) = &request.offer {
            offer.expect(SdpType::Offer, "the session description of new tracks")?;
        }
        let body = wire::SfuTracksRequest {
            session_description: request.offer.as_ref().map(SessionDescription::to_wire),
            tracks: wire_tracks(&request.tracks)?,
            auto_discover: request.auto_discover.then_some(true),
        };
        let (op, _turn) = self.turn(TRACKS_NEW).await?;
        let api = self.client.api(op);
        let (answer, meta) = self
            .send(&api, || api.sfu_tracks_new(app, session, &body))
            .await?;
        self.client
            .refuse_error_code(&meta, answer.error_code, answer.error_description)?;
        Ok(TracksAnswer {
            session_description: SessionDescription::from_wire(answer.session_description),
            requires_immediate_renegotiation: answer
                .requires_immediate_renegotiation
                .unwrap_or(false),
            tracks: self.tracks(request.tracks.clone(), answer.tracks, request.auto_discover),
        })
    }

    /// Points transceivers at other tracks, or changes simulcast preferences (1 to
    /// [`MAX_TRACKS_PER_REQUEST`], each with its `mid`). Safe to send again without an offer;
    /// with one, never sent twice (the offer would be stale).
    pub async fn update_tracks(
        &self,
        tracks: Vec<TrackRequest>,
        offer: Option<SessionDescription>,
    ) -> Result<TracksAnswer, Error> {
        let (app, session) = self.ids()?;
        if let Some(offer) = &offer {
            offer.expect(SdpType::Offer, "the session description of an update")?;
        }
        if tracks.is_empty()
            || tracks
                .iter()
                .any(|t| t.mid.as_deref().is_none_or(str::is_empty))
        {
            return Err(refused(
                "an update names at least one track, each by its mid",
            ));
        }
        let body = wire::SfuUpdateTracksRequest {
            session_description: offer.as_ref().map(SessionDescription::to_wire),
            tracks: wire_tracks(&tracks)?,
        };
        let (op, _turn) = self
            .turn(with_offer(TRACKS_UPDATE, offer.is_some()))
            .await?;
        let api = self.client.api(op);
        let (answer, meta) = self
            .send(&api, || api.sfu_tracks_update(app, session, &body))
            .await?;
        self.client
            .refuse_error_code(&meta, answer.error_code, answer.error_description)?;
        Ok(TracksAnswer {
            session_description: None,
            requires_immediate_renegotiation: answer
                .requires_immediate_renegotiation
                .unwrap_or(false),
            tracks: self.tracks(tracks, answer.tracks, false),
        })
    }

    /// Each track's outcome; with `discovered`, also the tracks the SFU named itself
    /// (`autoDiscover`).
    fn tracks(
        &self,
        requests: Vec<TrackRequest>,
        items: Vec<wire::SfuTrackResult>,
        discovered: bool,
    ) -> Batch<TrackRequest, TrackAnswer> {
        let rules = Rules {
            same: &|q: &TrackRequest, a: &wire::SfuTrackResult| {
                if a.track_name.is_some() {
                    q.names(a)
                } else {
                    q.mid.is_some() && q.mid == a.mid
                }
            },
            anonymous: &|a| a.track_name.is_none() && a.mid.as_deref().is_none_or(str::is_empty),
            unasked: if discovered {
                &TrackRequest::discovered
            } else {
                &none_unasked
            },
        };
        settle(
            requests,
            items,
            rules,
            &self.client.inner.transport.known(),
            plain(|item| Some(TrackAnswer::from_wire(item))),
        )
    }

    /// Answers an offer the SFU made (`requires_immediate_renegotiation`). Not sent again once
    /// it may have reached the SFU: a stale answer is refused.
    pub async fn renegotiate(
        &self,
        answer: &SessionDescription,
    ) -> Result<Option<SessionDescription>, Error> {
        let (app, session) = self.ids()?;
        answer.expect(SdpType::Answer, "a renegotiation")?;
        let body = wire::SfuRenegotiateRequest {
            session_description: answer.to_wire(),
        };
        let (op, _turn) = self.turn(RENEGOTIATE).await?;
        let api = self.client.api(op);
        let (reply, meta) = self
            .send(&api, || api.sfu_renegotiate(app, session, &body))
            .await?;
        self.client
            .refuse_error_code(&meta, reply.error_code, reply.error_description)?;
        Ok(SessionDescription::from_wire(reply.session_description))
    }

    /// Closes tracks by `mid` (1 to [`MAX_TRACKS_PER_REQUEST`]). A track already closed or
    /// absent counts as closed ([`Closed::AlreadyClosed`]), so a forced close is safe to send
    /// again; a negotiated one is never sent twice (its offer would be stale).
    pub async fn close_tracks(
        &self,
        mids: &[&str],
        how: &CloseTracks,
    ) -> Result<ClosedTracks, Error> {
        let (app, session) = self.ids()?;
        if mids.is_empty() || mids.len() > MAX_TRACKS_PER_REQUEST {
            return Err(refused(&format!(
                "a close names 1 to {MAX_TRACKS_PER_REQUEST} tracks, not {}",
                mids.len()
            )));
        }
        let (force, offer) = match how {
            CloseTracks::Force => (true, None),
            CloseTracks::Negotiated(offer) => {
                offer.expect(SdpType::Offer, "a negotiated close")?;
                (false, Some(offer.to_wire()))
            }
        };
        let body = wire::SfuCloseTracksRequest {
            force,
            session_description: offer,
            tracks: mids
                .iter()
                .map(|mid| {
                    wire::SfuCloseTrackMid::try_from(mid.to_string())
                        .map(|mid| wire::SfuCloseTrack { mid })
                        .map_err(|_| refused("a track's mid must not be empty"))
                })
                .collect::<Result<_, _>>()?,
        };
        let negotiated = matches!(how, CloseTracks::Negotiated(_));
        let (op, _turn) = self.turn(with_offer(TRACKS_CLOSE, negotiated)).await?;
        let api = self.client.api(op);
        let (answer, meta) = self
            .send(&api, || api.sfu_tracks_close(app, session, &body))
            .await?;
        self.client
            .refuse_error_code(&meta, answer.error_code, answer.error_description)?;
        let requests = mids.iter().map(|mid| mid.to_string()).collect();
        let rules = Rules {
            same: &|q: &String, a: &wire::SfuClosedTrack| a.mid.as_deref() == Some(q.as_str()),
            anonymous: &|a| a.mid.as_deref().is_none_or(str::is_empty),
            unasked: &none_unasked,
        };
        let tracks = settle(
            requests,
            answer.tracks,
            rules,
            &self.client.inner.transport.known(),
            closed_unless_failed,
        );
        Ok(ClosedTracks {
            session_description: SessionDescription::from_wire(answer.session_description),
            requires_immediate_renegotiation: answer
                .requires_immediate_renegotiation
                .unwrap_or(false),
            tracks,
        })
    }

    /// Sets up the session's data channel transport with `channel` (usually
    /// `DataChannelRequest::remote(session, "server-events")`). Without an offer the SFU makes
    /// one, to answer with [`Session::renegotiate`]. Never sent twice: a second establish
    /// fails.
    pub async fn establish_data_channels(
        &self,
        channel: DataChannelRequest,
        offer: Option<SessionDescription>,
    ) -> Result<EstablishedTransport, Error> {
        let (app, session) = self.ids()?;
        if let Some(offer) = &offer {
            offer.expect(SdpType::Offer, "the session description of an establish")?;
        }
        let body = wire::SfuEstablishRequest {
            data_channel: channel.to_wire()?,
            session_description: offer.as_ref().map(SessionDescription::to_wire),
        };
        let (op, _turn) = self.turn(DATACHANNELS_ESTABLISH).await?;
        let api = self.client.api(op);
        let (answer, meta) = self
            .send(&api, || api.sfu_datachannels_establish(app, session, &body))
            .await?;
        self.client
            .refuse_error_code(&meta, answer.error_code, answer.error_description)?;
        Ok(EstablishedTransport {
            session_description: SessionDescription::from_wire(answer.session_description),
            requires_immediate_renegotiation: answer
                .requires_immediate_renegotiation
                .unwrap_or(false),
            data_channel: self.channels(vec![channel], answer.data_channel.into_iter().collect()),
        })
    }

    /// Publishes or subscribes to data channels. Never sent twice: on per-item failures send
    /// the failed items again, alone.
    pub async fn add_data_channels(
        &self,
        channels: Vec<DataChannelRequest>,
    ) -> Result<Batch<DataChannelRequest, DataChannelAnswer>, Error> {
        self.data_channels(DATACHANNELS_NEW, channels).await
    }

    /// Changes data channels' settings. Safe to send again.
    pub async fn update_data_channels(
        &self,
        channels: Vec<DataChannelRequest>,
    ) -> Result<Batch<DataChannelRequest, DataChannelAnswer>, Error> {
        self.data_channels(DATACHANNELS_UPDATE, channels).await
    }

    async fn data_channels(
        &self,
        op: Planned,
        channels: Vec<DataChannelRequest>,
    ) -> Result<Batch<DataChannelRequest, DataChannelAnswer>, Error> {
        let (app, session) = self.ids()?;
        if channels.is_empty() {
            return Err(refused("a request names at least one data channel"));
        }
        let body = wire::SfuDataChannelsRequest {
            data_channels: channels
                .iter()
                .map(DataChannelRequest::to_wire)
                .collect::<Result<_, _>>()?,
        };
        let (op, _turn) = self.turn(op).await?;
        let api = self.client.api(op);
        let (answer, meta) = if op.id() == ops::SFU_DATACHANNELS_NEW.id {
            self.send(&api, || api.sfu_datachannels_new(app, session, &body))
                .await?
        } else {
            self.send(&api, || api.sfu_datachannels_update(app, session, &body))
                .await?
        };
        self.client
            .refuse_error_code(&meta, answer.error_code, answer.error_description)?;
        Ok(self.channels(channels, answer.data_channels))
    }

    fn channels(
        &self,
        requests: Vec<DataChannelRequest>,
        items: Vec<wire::SfuDataChannelResult>,
    ) -> Batch<DataChannelRequest, DataChannelAnswer> {
        let rules = Rules {
            same: &|q: &DataChannelRequest, a: &wire::SfuDataChannelResult| q.names(a),
            anonymous: &|a| a.data_channel_name.as_deref().is_none_or(str::is_empty),
            unasked: &none_unasked,
        };
        settle(
            requests,
            items,
            rules,
            &self.client.inner.transport.known(),
            plain(|item: wire::SfuDataChannelResult| {
                Some(DataChannelAnswer {
                    id: channel_id(item.id)?,
                    name: item.data_channel_name,
                })
            }),
        )
    }

    /// Closes data channels by `id`. One already closed or absent counts as closed, so it is
    /// safe to send again.
    pub async fn close_data_channels(&self, ids: &[u16]) -> Result<Batch<u16, Closed>, Error> {
        let (app, session) = self.ids()?;
        if ids.is_empty() || ids.iter().any(|id| f64::from(*id) > MAX_CHANNEL_ID) {
            return Err(refused(
                "a close names at least one data channel, each by an ID of 0 to 65534",
            ));
        }
        let body = wire::SfuCloseDataChannelsRequest {
            data_channels: ids
                .iter()
                .map(|id| wire::SfuCloseDataChannel { id: i64::from(*id) })
                .collect(),
        };
        let (op, _turn) = self.turn(DATACHANNELS_CLOSE).await?;
        let api = self.client.api(op);
        let (answer, meta) = self
            .send(&api, || api.sfu_datachannels_close(app, session, &body))
            .await?;
        self.client
            .refuse_error_code(&meta, answer.error_code, answer.error_description)?;
        let rules = Rules {
            same: &|q: &u16, a: &wire::SfuDataChannelResult| channel_id(a.id) == Some(*q),
            anonymous: &|a| a.id.is_none(),
            unasked: &none_unasked,
        };
        Ok(settle(
            ids.to_vec(),
            answer.data_channels,
            rules,
            &self.client.inner.transport.known(),
            closed_unless_failed,
        ))
    }
}

/// A close item: closed, or closed already (`close_track_error`: the track or channel is absent
/// or was closed), or failed.
fn closed_unless_failed<W: ItemError>(item: W) -> Result<Closed, Failed> {
    match item.error() {
        None => Ok(Closed::Closed),
        Some("close_track_error") => Ok(Closed::AlreadyClosed),
        Some(code) => {
            let code = code.to_string();
            Err(item_error(&code, item.description()))
        }
    }
}
