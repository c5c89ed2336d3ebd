//! The metrics and health endpoint: a deliberately small HTTP/1.1 server.
//!
//! Receives one request per connection and answers `GET /metrics` (Prometheus text
//! format), `GET /healthz` (the process is up) and `GET /readyz` (the ready flag is set:
//! capture open and rules loaded); then closes. It is hand-written rather than a web
//! framework because it needs so little, and so every limit is visible here: a request
//! head is read for at most [`READ_TIMEOUT`] and [`MAX_REQUEST_HEAD_BYTES`], a response
//! is written for at most [`WRITE_TIMEOUT`], and at most [`MAX_CONNECTIONS`] are served
//! at once. When every slot is taken, a fresh connection takes the slot of the oldest
//! connection still waiting for its request head (that one is closed without an
//! answer): idle or trickling clients, however many, cannot starve a scrape. Only when
//! every slot is busy answering does a new connection get a 503 at once instead of
//! queueing. A slow or hostile client therefore holds one slot for a bounded time and
//! never delays the others. Client addresses are neither logged nor kept.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Semaphore};

use crate::sink::metrics::{self, Metrics};

/// Longest request head read; longer ones get 431.
pub const MAX_REQUEST_HEAD_BYTES: usize = 8 * 1024;
/// Time a client has to send its whole request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a client has to take the whole response.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Headers parsed in a request; more get 431.
const MAX_HEADERS: usize = 64;
/// Longest wait for an evicted idle connection to hand back its slot.
const EVICTION_WAIT: Duration = Duration::from_millis(200);
/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The limits a server enforces; [`Limits::default`] uses the constants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub max_head_bytes: usize,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: MAX_CONNECTIONS,
            max_head_bytes: MAX_REQUEST_HEAD_BYTES,
            read_timeout: READ_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
        }
    }
}

/// What the endpoint serves: the metrics and the ready flag.
pub struct MetricsEndpoint {
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    limits: Limits,
}

impl MetricsEndpoint {
    /// An endpoint with the default limits.
    pub fn new(metrics: Arc<Metrics>, ready: Arc<AtomicBool>) -> MetricsEndpoint {
        MetricsEndpoint {
            metrics,
            ready,
            limits: Limits::default(),
        }
    }

    /// The same endpoint with other limits.
    pub fn with_limits(mut self, limits: Limits) -> MetricsEndpoint {
        self.limits = limits;
        self
    }
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// Named after the configuration key, so the operator knows what to change.
    #[error("metrics.listen {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
}

/// Binds the listening socket, with an error that names the setting and the cause
/// (`metrics.listen 127.0.0.1:9717: address already in use`).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, EndpointError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| EndpointError::Bind {
            addr,
            reason: bind_reason(&e),
        })
}

fn bind_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::AddrInUse => "address already in use".into(),
        io::ErrorKind::AddrNotAvailable => "address not available on this host".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Serves connections until `shutdown` completes. Connections already accepted finish
/// on their own (each within the read and write timeouts).
pub async fn serve(
    listener: TcpListener,
    endpoint: Arc<MetricsEndpoint>,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(endpoint.limits.max_connections));
    let idle = IdleQueue::default();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let slot = match Arc::clone(&slots).try_acquire_owned() {
                        Ok(slot) => Some(slot),
                        Err(_) if idle.evict_oldest() => {
                            endpoint.metrics.add_endpoint_idle_closed();
                            let freed = Arc::clone(&slots).acquire_owned();
                            tokio::time::timeout(EVICTION_WAIT, freed).await.ok().and_then(Result::ok)
                        }
                        Err(_) => None,
                    };
                    let Some(slot) = slot else {
                        endpoint.metrics.add_endpoint_busy();
                        // Best effort and non-blocking: the kernel buffer of a new
                        // socket takes this whole reply.
                        let _ = stream.try_write(&Response::busy().to_bytes(false));
                        continue;
                    };
                    let evicted = idle.push();
                    let endpoint = Arc::clone(&endpoint);
                    tokio::spawn(async move {
                        handle(stream, &endpoint, evicted).await;
                        drop(slot);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics endpoint: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
}

/// Connections still waiting for their request head, oldest first. Each entry wakes
/// its connection to close; a connection that has its head drops its receiver, so its
/// entry is skipped and pruned. Never longer than the number of slots plus those
/// finished entries, which each push prunes.
#[derive(Default)]
struct IdleQueue {
    waiting: Mutex<VecDeque<oneshot::Sender<()>>>,
}

impl IdleQueue {
    /// Registers a new connection (the newest); it is evicted when the receiver fires.
    fn push(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.retain(|tx| !tx.is_closed());
        waiting.push_back(tx);
        rx
    }

    /// Tells the oldest connection still reading its head to close; `false` if none.
    fn evict_oldest(&self) -> bool {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(tx) = waiting.pop_front() {
            if tx.send(()).is_ok() {
                return true;
            }
        }
        false
    }
}

/// Reads one request, answers it, closes. Closes without an answer if `evicted` fires
/// while the head is still being read (a fresh connection needs the slot).
async fn handle(mut stream: TcpStream, endpoint: &MetricsEndpoint, evicted: oneshot::Receiver<()>) {
    let _ = stream.set_nodelay(true);
    let limits = endpoint.limits;
    let head = tokio::select! {
        head = tokio::time::timeout(
            limits.read_timeout,
            read_head(&mut stream, limits.max_head_bytes),
        ) => head,
        Ok(()) = evicted => return,
    };
    let (response, is_head) = match head {
        Err(_elapsed) => (
            Response::plain(408, "Request Timeout", "request timeout\n"),
            false,
        ),
        Ok(Err(_)) | Ok(Ok(Head::Closed)) => return,
        Ok(Ok(Head::TooLarge)) => (
            Response::plain(
                431,
                "Request Header Fields Too Large",
                "request head too large\n",
            ),
            false,
        ),
        Ok(Ok(Head::Malformed)) => (Response::plain(400, "Bad Request", "bad request\n"), false),
        Ok(Ok(Head::Request { method, route })) => {
            (respond(endpoint, method, route), method == Method::Head)
        }
    };
    let bytes = response.to_bytes(is_head);
    let _ = tokio::time::timeout(limits.write_timeout, async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    })
    .await;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Head,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Metrics,
    Healthz,
    Readyz,
    NotFound,
}

/// The outcome of reading a request head.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    Request {
        method: Method,
        route: Route,
    },
    TooLarge,
    Malformed,
    /// The client went away before sending a whole head.
    Closed,
}

/// Reads until the end of the request head, at most `max` bytes.
async fn read_head(stream: &mut TcpStream, max: usize) -> io::Result<Head> {
    let mut buf = vec![0u8; max];
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(Head::Closed);
        }
        filled += n;
        match parse_head(&buf[..filled]) {
            Some(head) => return Ok(head),
            None if filled == max => return Ok(Head::TooLarge),
            None => {}
        }
    }
}

/// Parses a request head; `None` while it is incomplete.
fn parse_head(bytes: &[u8]) -> Option<Head> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(bytes) {
        Ok(httparse::Status::Partial) => None,
        Ok(httparse::Status::Complete(_)) => {
            let method = match request.method {
                Some("GET") => Method::Get,
                Some("HEAD") => Method::Head,
                _ => Method::Other,
            };
            let path = request.path.unwrap_or_default();
            let path = path.split(['?', '#']).next().unwrap_or_default();
            let route = match path {
                "/metrics" => Route::Metrics,
                "/healthz" => Route::Healthz,
                "/readyz" => Route::Readyz,
                _ => Route::NotFound,
            };
            Some(Head::Request { method, route })
        }
        Err(httparse::Error::TooManyHeaders) => Some(Head::TooLarge),
        Err(_) => Some(Head::Malformed),
    }
}

fn respond(endpoint: &MetricsEndpoint, method: Method, route: Route) -> Response {
    if route == Route::NotFound {
        return Response::plain(404, "Not Found", "not found\n");
    }
    if method == Method::Other {
        let mut r = Response::plain(405, "Method Not Allowed", "method not allowed\n");
        r.allow = true;
        return r;
    }
    match route {
        Route::Metrics => Response {
            status: 200,
            reason: "OK",
            content_type: metrics::CONTENT_TYPE,
            body: endpoint.metrics.render().into_bytes(),
            allow: false,
        },
        Route::Healthz => Response::plain(200, "OK", "ok\n"),
        Route::Readyz if endpoint.ready.load(Ordering::Acquire) => {
            Response::plain(200, "OK", "ready\n")
        }
        Route::Readyz => Response::plain(503, "Service Unavailable", "not ready\n"),
        Route::NotFound => Response::plain(404, "Not Found", "not found\n"),
    }
}

/// A complete response; always `Connection: close`.
struct Response {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    /// Send `Allow: GET, HEAD` (with 405).
    allow: bool,
}

impl Response {
    fn plain(status: u16, reason: &'static str, body: &str) -> Response {
        Response {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            body: body.as_bytes().to_vec(),
            allow: false,
        }
    }

    fn busy() -> Response {
        Response::plain(503, "Service Unavailable", "busy\n")
    }

    /// The bytes on the wire; for HEAD the headers alone (RFC 9110 §9.3.2).
    fn to_bytes(&self, head_only: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nConnection: close\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        if self.allow {
            out.extend_from_slice(b"Allow: GET, HEAD\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

#[cfg(test)]
mod tests;
