//! router binary: the shared service `main` (arguments, config, telemetry, signals), then
//! `router::Context::connect` and `router::run`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    smsflow_runtime::service::main("router", |config: router::Config, shutdown| async move {
        let ctx = router::Context::connect(&config).await?;
        router::run(config, ctx, shutdown).await
    })
    .await
}
