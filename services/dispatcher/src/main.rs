//! dispatcher binary: the shared service `main` (arguments, config, telemetry, signals), then
//! `dispatcher::Context::connect` and `dispatcher::run`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    smsflow_runtime::service::main(
        "dispatcher",
        |config: dispatcher::Config, shutdown| async move {
            let ctx = dispatcher::Context::connect(&config).await?;
            dispatcher::run(config, ctx, shutdown).await
        },
    )
    .await
}
