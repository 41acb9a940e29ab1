//! Watches (`?watch=true`): a chunked stream of newline-delimited JSON
//! `{"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": ...}` events.
//!
//! Without a `resourceVersion` (or with `0`, or `sendInitialEvents=true`) the
//! stream starts with synthetic `ADDED` events for the current objects; with
//! one it replays the logged changes after it, or answers a `410 Gone` ERROR
//! event when the log no longer reaches back that far, so clients relist.
//! `timeoutSeconds` ends the stream; bookmarks are sent when allowed.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use crate::error::ApiError;
use crate::resources::ResourceDef;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::server::Inner;
use crate::store::Event;
use crate::table::{self, IncludeObject};

/// A response body fed by a channel.
pub struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

/// What a watch selects and how it renders.
pub struct WatchRequest {
    /// The resource.
    pub def: &'static ResourceDef,
    /// Namespace (None: all / cluster-scoped).
    pub namespace: Option<String>,
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
    /// `resourceVersion` to start after.
    pub resource_version: Option<u64>,
    /// `sendInitialEvents=true`.
    pub send_initial: bool,
    /// `allowWatchBookmarks=true`.
    pub bookmarks: bool,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
    /// Render objects as Tables.
    pub table: Option<IncludeObject>,
}

impl WatchRequest {
    fn selects(&self, key: &str, ev: &Event) -> bool {
        ev.key == key
            && self.namespace.as_deref().is_none_or(|n| n == ev.namespace)
            && self.labels.matches_object(&ev.object)
            && self.fields.matches(&ev.object)
    }

    fn render(&self, kind: &str, obj: &Arc<Value>) -> Bytes {
        let table;
        let object = match self.table {
            Some(inc) => {
                table = table::table(
                    self.def,
                    std::slice::from_ref(obj),
                    obj["metadata"]["resourceVersion"].as_str().unwrap_or(""),
                    inc,
                );
                &table
            }
            None => &**obj,
        };
        // Written from the stored object itself: every watcher of every
        // change renders one, so no copy of it is made first.
        let mut line = serde_json::to_vec(&WatchEvent { kind, object }).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }
}

/// One line of a watch: `{"type": ..., "object": ...}`.
#[derive(serde::Serialize)]
struct WatchEvent<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    object: &'a Value,
}

fn bookmark(def: &ResourceDef, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let ev = json!({"type": "BOOKMARK", "object": {"kind": def.kind, "apiVersion": def.api_version(), "metadata": meta}});
    let mut line = serde_json::to_vec(&ev).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// Starts a watch; returns the streaming body.
pub fn start(inner: &Arc<Inner>, req: WatchRequest) -> Result<ChannelBody, ApiError> {
    let key = req.def.key();
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut first: Vec<Bytes> = Vec::new();
    let (sub, start_rv) = {
        let st = crate::lock(&inner.state);
        let sub = st.store.subscribe();
        let now_rv = st.store.resource_version();
        let initial = req.send_initial || req.resource_version.is_none_or(|rv| rv == 0);
        if initial {
            for o in st.store.list(&key, req.namespace.as_deref()) {
                if req.labels.matches_object(o) && req.fields.matches(o) {
                    first.push(req.render("ADDED", o));
                }
            }
            if req.send_initial && req.bookmarks {
                first.push(bookmark(req.def, now_rv, true));
            }
        } else {
            let rv = req.resource_version.unwrap_or(0);
            match st.store.events_since(rv) {
                Some(evs) => {
                    for ev in evs.iter().filter(|e| req.selects(&key, e)) {
                        first.push(req.render(ev.kind.as_str(), &ev.object));
                    }
                }
                None => {
                    let gone = ApiError::new(
                        410,
                        "Expired",
                        format!("too old resource version: {rv} ({now_rv})"),
                    );
                    let mut line =
                        serde_json::to_vec(&json!({"type": "ERROR", "object": gone.to_status()}))
                            .unwrap_or_default();
                    line.push(b'\n');
                    first.push(Bytes::from(line));
                    drop(sub);
                    let (tx2, rx2) = mpsc::channel(first.len().max(1));
                    for b in first {
                        let _ = tx2.try_send(b);
                    }
                    return Ok(ChannelBody { rx: rx2 });
                }
            }
        }
        (sub, now_rv)
    };
    tokio::spawn(pump(req, key, tx, sub, first, start_rv));
    Ok(ChannelBody { rx })
}

async fn pump(
    req: WatchRequest,
    key: String,
    tx: mpsc::Sender<Bytes>,
    mut sub: broadcast::Receiver<Arc<Event>>,
    first: Vec<Bytes>,
    start_rv: u64,
) {
    for b in first {
        if tx.send(b).await.is_err() {
            return;
        }
    }
    let deadline = tokio::time::sleep(req.timeout.unwrap_or(Duration::from_secs(1800)));
    tokio::pin!(deadline);
    let mut last_rv = start_rv;
    let mut ticker = tokio::time::interval(Duration::from_secs(30));
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = &mut deadline => return,
            _ = tx.closed() => return,
            _ = ticker.tick(), if req.bookmarks => {
                if tx.send(bookmark(req.def, last_rv, false)).await.is_err() {
                    return;
                }
            }
            ev = sub.recv() => match ev {
                Ok(ev) => {
                    if ev.rv <= start_rv {
                        continue;
                    }
                    last_rv = ev.rv;
                    if req.selects(&key, &ev) && tx.send(req.render(ev.kind.as_str(), &ev.object)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}
