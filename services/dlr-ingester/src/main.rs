//! dlr-ingester binary: the shared service `main` (arguments, config, telemetry, signals), then
//! `dlr_ingester::Context::connect` and `dlr_ingester::run`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    smsflow_runtime::service::main(
        "dlr-ingester",
        |config: dlr_ingester::Config, shutdown| async move {
            let ctx = dlr_ingester::Context::connect(&config).await?;
            dlr_ingester::run(config, ctx, shutdown).await
        },
    )
    .await
}
