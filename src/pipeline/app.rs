//! The application layer a flow carries (HTTP, or TLS noted and skipped), and how
//! reassembled chunks and flow endings reach it.

use crate::flow::{Direction, Endpoint, Flow};
use crate::http::session::FlowContext;
use crate::http::{HttpSession, HttpTransaction};
use crate::observe::{NullObserver, Summary, TransactionObserver};
use crate::reassembly::Chunk;
use crate::time::Timestamp;
use crate::tls;

/// What a flow carries, decided by its first bytes.
#[derive(Debug, Default)]
pub enum FlowApp {
    #[default]
    Undecided,
    Http(Box<HttpSession>),
    /// TLS: the ClientHello was read; the rest is not parsed.
    Tls,
}

// The flow table sizes its slots for a two-word application state; a larger
// `FlowApp` would make every slot cost more than the budget accounts.
const _: () = assert!(
    std::mem::size_of::<Flow<FlowApp>>()
        == std::mem::size_of::<Flow<crate::flow::budget::AppSlot>>()
);

impl crate::flow::EvictionHint for FlowApp {
    fn mid_message(&self) -> bool {
        match self {
            FlowApp::Http(session) => session.mid_request(),
            _ => false,
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            FlowApp::Http(session) => std::mem::size_of::<HttpSession>() + session.heap_bytes(),
            _ => 0,
        }
    }

    fn request_open_since(&self) -> Option<Timestamp> {
        match self {
            FlowApp::Http(session) => session.request_open_since(),
            _ => None,
        }
    }
}

/// What a flow's session stamps on its transactions, and keeps of responses.
pub(super) fn context(flow: &Flow<FlowApp>, keep_response_bytes: usize) -> FlowContext {
    context_of(flow.id, flow.endpoints(), keep_response_bytes)
}

/// [`context`] from the flow's id and endpoints, for a caller that holds the flow's
/// streams and session borrowed.
pub(super) fn context_of(
    flow_id: u64,
    (client, server): (Endpoint, Endpoint),
    keep_response_bytes: usize,
) -> FlowContext {
    FlowContext {
        flow_id,
        client: client.addr(),
        server: server.addr(),
        keep_response_bytes,
    }
}

/// Hands a chunk of one direction to the flow's application layer.
pub(super) fn deliver(
    app: &mut FlowApp,
    dir: Direction,
    chunk: Chunk<'_>,
    now: Timestamp,
    ctx: &FlowContext,
    pending: &mut Vec<HttpTransaction>,
    observer: &mut dyn TransactionObserver,
) {
    if let FlowApp::Undecided = app {
        match chunk {
            Chunk::Data(d) if dir == Direction::ToServer && tls::looks_like_tls(d) => {
                if let Some(hello) = tls::parse_client_hello(d) {
                    observer.on_client_hello(&hello);
                }
                *app = FlowApp::Tls;
                return;
            }
            _ => {
                let mut session = HttpSession::pooled();
                session.keep_response_bytes(ctx.keep_response_bytes);
                *app = FlowApp::Http(session);
            }
        }
    }
    if let FlowApp::Http(session) = app {
        session.on_chunk(dir, chunk, now, ctx, pending);
    }
}

/// Gives up a flow's buffered holes down to `limit` bytes per direction (memory
/// pressure); the gaps and data go to the session. Returns the bytes released.
pub(super) fn trim_flow(
    flow: &mut Flow<FlowApp>,
    limit: usize,
    now: Timestamp,
    keep_response_bytes: usize,
    out: &mut Vec<HttpTransaction>,
) -> usize {
    let ctx = context(flow, keep_response_bytes);
    let Flow { streams, app, .. } = flow;
    let mut released = 0;
    for (stream, dir) in streams
        .iter_mut()
        .zip([Direction::ToServer, Direction::ToClient])
    {
        released += stream.shrink_pending(limit, &mut |chunk| {
            deliver(app, dir, chunk, now, &ctx, out, &mut NullObserver);
        });
    }
    released
}

/// A flow left the table: flush it unless that was done when it closed.
pub(super) fn finish_flow(
    mut flow: Flow<FlowApp>,
    now: Timestamp,
    pending: &mut Vec<HttpTransaction>,
    summary: &mut Summary,
) {
    flush_flow(&mut flow, now, pending, summary);
}

/// Flushes a flow's streams and HTTP state once, and adds its counters.
pub(super) fn flush_flow(
    flow: &mut Flow<FlowApp>,
    now: Timestamp,
    pending: &mut Vec<HttpTransaction>,
    summary: &mut Summary,
) {
    if flow.finished {
        return;
    }
    flow.finished = true;
    let now = now.max(flow.last_seen);
    // Flushing feeds only a session that exists; it makes none.
    let ctx = context(flow, 0);
    let Flow { streams, app, .. } = flow;
    for (i, stream) in streams.iter_mut().enumerate() {
        let dir = if i == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        stream.finish(&mut |chunk| {
            if let FlowApp::Http(session) = app {
                session.on_chunk(dir, chunk, now, &ctx, pending);
            }
        });
        summary.reassembly += stream.stats();
    }
    if let FlowApp::Http(session) = app {
        session.finish(now, &ctx, pending);
        summary.http += session.stats;
    } else if let FlowApp::Tls = app {
        summary.tls_client_hellos += 1;
    }
    // The flow is flushed: a finished flow stays in the table only to absorb late
    // packets, so its session goes back to the pool now rather than when it leaves.
    if let FlowApp::Http(_) = app {
        if let FlowApp::Http(session) = std::mem::take(app) {
            HttpSession::recycle(session);
        }
    }
}
