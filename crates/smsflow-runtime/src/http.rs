//! The operational HTTP surface every service exposes: `/healthz` (the process runs),
//! `/readyz` (its Kafka, CQL store and registry links answer), `/metrics` (Prometheus).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use futures::future::BoxFuture;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::HttpConfig;

/// One readiness check: `Ok` when the dependency answers.
pub type Check = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// The named checks `/readyz` runs.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(&'static str, Check)>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.checks.iter().map(|(n, _)| n))
            .finish()
    }
}

/// How long one check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

impl Readiness {
    /// Adds a check named `name`.
    pub fn with<F, Fut>(mut self, name: &'static str, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks.push((name, Arc::new(move || Box::pin(f()))));
        self
    }

    /// Runs every check; returns each name with its error, if any.
    pub async fn run(&self) -> Vec<(&'static str, Option<String>)> {
        let futs = self.checks.iter().map(|(name, check)| {
            let fut = check();
            async move {
                let r = match tokio::time::timeout(CHECK_TIMEOUT, fut).await {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e),
                    Err(_) => Some(format!("no answer within {CHECK_TIMEOUT:?}")),
                };
                (*name, r)
            }
        });
        futures::future::join_all(futs).await
    }
}

async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, axum::Json(json!({"status": "ok"})))
}

async fn readyz(State(r): State<Readiness>) -> impl IntoResponse {
    let results = r.run().await;
    let ready = results.iter().all(|(_, e)| e.is_none());
    let checks: serde_json::Map<String, serde_json::Value> = results
        .into_iter()
        .map(|(n, e)| (n.to_owned(), e.map_or(json!("ok"), |e| json!(e))))
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({"ready": ready, "checks": checks})),
    )
}

async fn metrics() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        crate::telemetry::prometheus().render(),
    )
}

/// `/healthz`, `/readyz` and `/metrics`; merge a service's own routes into it.
pub fn ops_router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(readiness)
        .route("/metrics", get(metrics))
}

/// Binds the configured listener.
pub async fn bind(cfg: &HttpConfig) -> std::io::Result<TcpListener> {
    TcpListener::bind(&cfg.listen).await
}

/// Serves `router` until `shutdown` is cancelled, then lets open requests finish. At most
/// `limits.max_connections` connections at once (the next clients wait in the backlog). A
/// connection is closed when it has not sent a whole request head `limits.header_timeout_ms`
/// after its first byte, or has been silent that long, up to twice that (a new one, or a
/// kept-alive one between requests; one handling a request finishes it first): a slowloris
/// client holds nothing.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpConfig,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let timeout = limits.header_timeout();
    let connections = TaskTracker::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout);
    let builder = Arc::new(builder);
    loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("never closed"),
        };
        let (stream, _) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let moved = Arc::new(AtomicU64::new(0));
        let service = TowerToHyperService::new(
            router
                .clone()
                .map_request(|r: axum::http::Request<Incoming>| r.map(axum::body::Body::new)),
        );
        let builder = Arc::clone(&builder);
        let stop = shutdown.clone();
        let io = TokioIo::new(Watched {
            inner: stream,
            moved: Arc::clone(&moved),
        });
        connections.spawn(async move {
            let conn = builder.serve_connection_with_upgrades(io, service);
            let mut conn = std::pin::pin!(conn);
            // Nothing written between two ticks `timeout` apart: silent for between one and two
            // timeouts (one for a client that never sends anything).
            let first = tokio::time::Instant::now() + timeout;
            let mut tick = tokio::time::interval_at(first, timeout);
            let (mut seen, mut closing) = (0, false);
            loop {
                tokio::select! {
                    _ = conn.as_mut() => break,
                    _ = stop.cancelled(), if !closing => {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    _ = tick.tick(), if !closing => {
                        let now = moved.load(Ordering::Relaxed);
                        let silent = now == seen;
                        seen = now;
                        if silent {
                            closing = true;
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// A socket that counts its writes, for the idle watchdog of [`serve`]: a connection the server
/// wrote nothing to for a tick is shut down gracefully, and one still reading or handling a
/// request finishes it, answers, then closes. Reads need no count: every request a client
/// sends is answered by a write, and a request being read is finished by the graceful close.
struct Watched {
    inner: tokio::net::TcpStream,
    moved: Arc<AtomicU64>,
}

impl tokio::io::AsyncRead for Watched {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Watched {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.moved.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(r: Readiness) -> (StatusCode, serde_json::Value) {
        let resp = readyz(State(r)).await.into_response();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 64 * 1024)
            .await
            .expect("a body");
        (status, serde_json::from_slice(&body).expect("JSON"))
    }

    #[tokio::test]
    async fn ready_only_when_every_check_answers() {
        let ok = Readiness::default()
            .with("kafka", || async { Ok(()) })
            .with("store", || async { Ok(()) });
        let (status, body) = answer(ok).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["ready"], true);
        assert_eq!(body["checks"]["store"], "ok");

        let one_down = Readiness::default()
            .with("kafka", || async { Ok(()) })
            .with("store", || async {
                Err("127.0.0.1:9042 refused".to_owned())
            });
        let (status, body) = answer(one_down).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["ready"], false);
        assert_eq!(body["checks"]["kafka"], "ok");
        assert_eq!(body["checks"]["store"], "127.0.0.1:9042 refused");
    }

    #[tokio::test(start_paused = true)]
    async fn hanging_checks_fail_after_the_timeout_and_together() {
        let r = Readiness::default()
            .with("registry", std::future::pending::<Result<(), String>>)
            .with("store", std::future::pending::<Result<(), String>>)
            .with("kafka", || async { Ok(()) });
        let started = tokio::time::Instant::now();
        let results = r.run().await;
        // Run one after the other they would take two timeouts (paused time: exact).
        assert_eq!(started.elapsed(), CHECK_TIMEOUT);
        assert_eq!(results[2], ("kafka", None));
        for (name, err) in &results[..2] {
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains("no answer within")),
                "{name}: {err:?}"
            );
        }
    }

    /// A server of the ops router with `limits`, and its address.
    async fn server(limits: HttpConfig) -> (std::net::SocketAddr, CancellationToken) {
        let listener = bind(&limits).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(
            async move { serve(listener, ops_router(Readiness::default()), limits, s).await },
        );
        (addr, stop)
    }

    fn limits(header_timeout_ms: u64, max_connections: usize) -> HttpConfig {
        HttpConfig {
            header_timeout_ms,
            max_connections,
            ..HttpConfig::on("127.0.0.1:0")
        }
    }

    /// Whether the server closed `c` within `within` (a read returns end of stream or an error).
    async fn closed(c: &mut tokio::net::TcpStream, within: Duration) -> bool {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 512];
        loop {
            match tokio::time::timeout(within, c.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => {} // a 408 answer before the close
            }
        }
    }

    async fn healthz_status(addr: std::net::SocketAddr, within: Duration) -> Option<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut c = tokio::net::TcpStream::connect(addr).await.ok()?;
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut out = Vec::new();
        tokio::time::timeout(within, c.read_to_end(&mut out))
            .await
            .ok()?
            .ok()?;
        String::from_utf8_lossy(&out)
            .lines()
            .next()
            .map(str::to_owned)
    }

    #[tokio::test]
    async fn slow_or_silent_clients_are_closed_at_the_header_timeout() {
        use tokio::io::AsyncWriteExt;
        let (addr, stop) = server(limits(300, 1_000)).await;
        let mut slow = Vec::new();
        for _ in 0..200 {
            let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
            // Headers begun and never finished, as slowloris does.
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-a: ")
                .await
                .unwrap();
            slow.push(c);
        }
        let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
        let started = std::time::Instant::now();
        for c in &mut slow {
            assert!(
                closed(c, Duration::from_secs(3)).await,
                "a slow client kept its socket"
            );
        }
        assert!(
            closed(&mut silent, Duration::from_secs(3)).await,
            "a silent client kept its socket"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        // Well-behaved clients are answered.
        assert_eq!(
            healthz_status(addr, Duration::from_secs(2))
                .await
                .as_deref(),
            Some("HTTP/1.1 200 OK")
        );
        stop.cancel();
    }

    #[tokio::test]
    async fn a_slow_request_is_answered_and_then_an_idle_connection_closed() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let limits = limits(300, 100);
        let listener = bind(&limits).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let slow = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1_000)).await;
                "done"
            }),
        );
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move {
            serve(
                listener,
                ops_router(Readiness::default()).merge(slow),
                limits,
                s,
            )
            .await
        });
        // A request that takes three timeouts gets its answer.
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(3), c.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        // Then, kept alive and silent, the connection is closed.
        assert!(
            closed(&mut c, Duration::from_secs(2)).await,
            "an idle kept-alive socket stayed open"
        );
        stop.cancel();
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_wait_for_a_free_one() {
        let (addr, stop) = server(limits(30_000, 2)).await;
        let a = tokio::net::TcpStream::connect(addr).await.unwrap();
        let b = tokio::net::TcpStream::connect(addr).await.unwrap();
        // Both slots held by idle clients: a third is not served ...
        assert_eq!(healthz_status(addr, Duration::from_millis(500)).await, None);
        drop(a);
        // ... until one of them leaves.
        assert_eq!(
            healthz_status(addr, Duration::from_secs(2))
                .await
                .as_deref(),
            Some("HTTP/1.1 200 OK")
        );
        drop(b);
        stop.cancel();
    }
}
