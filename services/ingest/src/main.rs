//! ingest binary: the shared service `main` (arguments, config, telemetry, signals), then
//! `ingest::Context::connect` and `ingest::run`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    smsflow_runtime::service::main("ingest", |config: ingest::Config, shutdown| async move {
        let ctx = ingest::Context::connect(&config).await?;
        ingest::run(config, ctx, shutdown).await
    })
    .await
}
