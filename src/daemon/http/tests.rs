//! The endpoint over loopback: routes, limits, and hostile clients. Every test is
//! bounded by [`TEST_DEADLINE`].

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::*;
use crate::sink::metrics::ContentGroups;

const TEST_DEADLINE: Duration = Duration::from_secs(20);

struct Server {
    addr: SocketAddr,
    ready: Arc<AtomicBool>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(limits: Limits) -> Server {
        let metrics = Arc::new(Metrics::new(ContentGroups::default()).expect("metrics"));
        metrics.set_rules_loaded(7);
        let ready = Arc::new(AtomicBool::new(false));
        let endpoint =
            Arc::new(MetricsEndpoint::new(metrics, Arc::clone(&ready)).with_limits(limits));
        let listener = bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, endpoint, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            ready,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(2), &mut self.task)
            .await
            .expect("serve returns after shutdown")
            .expect("serve does not panic");
    }
}

/// Sends raw bytes and reads the whole response (the server closes).
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

async fn get(addr: SocketAddr, path: &str) -> String {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )
    .await
}

fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn body_of(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_DEADLINE, test)
        .await
        .expect("test finished within its deadline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_metrics_health_and_readiness() {
    bounded(async {
        let server = Server::start(Limits::default()).await;
        let metrics = get(server.addr, "/metrics").await;
        assert_eq!(status_of(&metrics), 200, "{metrics}");
        assert!(metrics.contains("Content-Type: text/plain; version=0.0.4"));
        assert!(body_of(&metrics).contains("tamperwatch_rules_loaded 7"));
        let length: usize = metrics
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|l| l.trim().parse().ok())
            .expect("content length");
        assert_eq!(length, body_of(&metrics).len());

        let with_query = get(server.addr, "/metrics?x=1").await;
        assert_eq!(status_of(&with_query), 200);

        let health = get(server.addr, "/healthz").await;
        assert_eq!(status_of(&health), 200);
        assert_eq!(body_of(&health), "ok\n");

        assert_eq!(status_of(&get(server.addr, "/readyz").await), 503);
        server.ready.store(true, Ordering::Release);
        assert_eq!(status_of(&get(server.addr, "/readyz").await), 200);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_are_404_and_other_methods_405() {
    bounded(async {
        let server = Server::start(Limits::default()).await;
        assert_eq!(status_of(&get(server.addr, "/").await), 404);
        assert_eq!(status_of(&get(server.addr, "/metrics/x").await), 404);
        let post = exchange(
            server.addr,
            b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        assert_eq!(status_of(&post), 405);
        assert!(post.contains("Allow: GET, HEAD\r\n"));
        let delete = exchange(server.addr, b"DELETE /nope HTTP/1.1\r\n\r\n").await;
        assert_eq!(status_of(&delete), 404);
        let head = exchange(server.addr, b"HEAD /metrics HTTP/1.1\r\n\r\n").await;
        assert_eq!(status_of(&head), 200);
        assert_eq!(body_of(&head), "");
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_get_431_and_garbage_400() {
    bounded(async {
        let server = Server::start(Limits::default()).await;
        let mut huge = b"GET /metrics HTTP/1.1\r\nX-Pad: ".to_vec();
        huge.extend(std::iter::repeat(b'a').take(MAX_REQUEST_HEAD_BYTES));
        huge.extend_from_slice(b"\r\n\r\n");
        assert_eq!(status_of(&exchange(server.addr, &huge).await), 431);

        let mut many = b"GET /metrics HTTP/1.1\r\n".to_vec();
        for i in 0..100 {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(status_of(&exchange(server.addr, &many).await), 431);

        let garbage = exchange(server.addr, b"\x16\x03\x01\x00\xff\xfe garbage\r\n\r\n").await;
        assert_eq!(status_of(&garbage), 400);
        let no_version = exchange(server.addr, b"GET /metrics\r\n\r\n").await;
        assert_eq!(status_of(&no_version), 400);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_huge_clients_do_not_delay_others() {
    bounded(async {
        let server = Server::start(Limits::default()).await;
        let addr = server.addr;

        // One client connects and sends nothing.
        let idle = TcpStream::connect(addr).await.expect("idle connects");
        // One sends a megabyte of garbage as fast as it can.
        let flood = tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.expect("flood connects");
            let chunk = vec![b'A'; 64 * 1024];
            for _ in 0..16 {
                if stream.write_all(&chunk).await.is_err() {
                    break; // the server answered 431 and closed
                }
            }
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer).await;
        });
        tokio::time::sleep(Duration::from_millis(50)).await;

        let started = Instant::now();
        let metrics = get(addr, "/metrics").await;
        let took = started.elapsed();
        assert_eq!(status_of(&metrics), 200);
        assert!(took < Duration::from_secs(1), "/metrics took {took:?}");

        tokio::time::timeout(Duration::from_secs(5), flood)
            .await
            .expect("the flooding client is cut off")
            .expect("flood task");
        drop(idle);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_are_timed_out() {
    bounded(async {
        let limits = Limits {
            read_timeout: Duration::from_millis(200),
            ..Limits::default()
        };
        let server = Server::start(limits).await;
        let started = Instant::now();
        let mut idle = TcpStream::connect(server.addr).await.expect("connect");
        // A trickle that never completes a head does not extend the deadline.
        idle.write_all(b"GET /met").await.expect("send");
        let mut answer = Vec::new();
        let _ = idle.read_to_end(&mut answer).await;
        let took = started.elapsed();
        assert_eq!(status_of(&String::from_utf8_lossy(&answer)), 408);
        assert!(took >= Duration::from_millis(200) && took < Duration::from_secs(3));
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_connection_takes_the_slot_of_the_oldest_idle_one() {
    bounded(async {
        let limits = Limits {
            max_connections: 2,
            ..Limits::default()
        };
        let server = Server::start(limits).await;
        let mut first = TcpStream::connect(server.addr).await.expect("first");
        let second = TcpStream::connect(server.addr).await.expect("second");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let third = get(server.addr, "/metrics").await;
        assert_eq!(status_of(&third), 200, "{third}");
        assert!(started.elapsed() < Duration::from_secs(1));
        // The oldest idle connection was closed without an answer, long before its
        // read timeout.
        let mut answer = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(1), first.read_to_end(&mut answer))
            .await
            .expect("the oldest idle connection is closed at once");
        assert!(closed.is_ok() && answer.is_empty(), "{answer:?}");
        let metrics = get(server.addr, "/metrics").await;
        assert!(
            metrics.contains("tamperwatch_endpoint_idle_closed_total 1"),
            "the eviction is counted: {metrics}"
        );
        drop(second);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_succeeds_while_more_idle_clients_than_slots_hold_connections() {
    bounded(async {
        let server = Server::start(Limits::default()).await;
        let mut idle = Vec::new();
        for _ in 0..MAX_CONNECTIONS + 16 {
            idle.push(
                TcpStream::connect(server.addr)
                    .await
                    .expect("idle connects"),
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        for _ in 0..3 {
            let started = Instant::now();
            let metrics = get(server.addr, "/metrics").await;
            assert_eq!(status_of(&metrics), 200, "{metrics}");
            assert!(started.elapsed() < Duration::from_secs(1));
        }
        drop(idle);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_a_port_in_use_names_the_setting() {
    bounded(async {
        let taken = bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("first bind");
        let addr = taken.local_addr().expect("addr");
        let err = bind(addr).await.expect_err("second bind fails");
        assert_eq!(
            err.to_string(),
            format!("metrics.listen {addr}: address already in use")
        );
    })
    .await;
}

#[test]
fn parses_heads_into_routes() {
    let route = |bytes: &[u8]| parse_head(bytes);
    assert_eq!(route(b"GET /metrics HTTP/1.1\r\n"), None);
    assert_eq!(
        route(b"GET /readyz HTTP/1.0\r\n\r\n"),
        Some(Head::Request {
            method: Method::Get,
            route: Route::Readyz
        })
    );
    assert_eq!(
        route(b"PUT /healthz HTTP/1.1\r\n\r\n"),
        Some(Head::Request {
            method: Method::Other,
            route: Route::Healthz
        })
    );
    assert_eq!(route(b"\0\0\0\0"), Some(Head::Malformed));
}
