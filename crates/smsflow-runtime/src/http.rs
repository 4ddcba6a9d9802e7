//! The operational HTTP surface every service exposes: `/healthz` (the process runs),
//! `/readyz` (its Kafka, CQL store and registry links answer), `/metrics` (Prometheus).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use futures::future::BoxFuture;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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

/// Serves `router` until `shutdown` is cancelled, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
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
}
