//! analytics binary: the shared service `main` (arguments, config, telemetry, signals), then
//! `analytics::Context::connect` and `analytics::run`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    smsflow_runtime::service::main(
        "analytics",
        |config: analytics::Config, shutdown| async move {
            let ctx = analytics::Context::connect(&config).await?;
            analytics::run(config, ctx, shutdown).await
        },
    )
    .await
}
