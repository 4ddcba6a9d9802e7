//! The client records its metrics under the names of `metrics.rs`, with fixed labels.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::mock_smsc::{Body, MockSmsc, Reply};
use common::{WAIT, test_config};
use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use smsflow_smpp::metrics::Metric;
use smsflow_smpp::{Lane, SmppClient, SubmitRequest};

#[derive(Debug, Default)]
struct Count(AtomicU64);

impl HistogramFn for Count {
    fn record(&self, _value: f64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Records everything in maps keyed by `name{label=value,...}`.
#[derive(Debug, Default)]
struct TestRecorder {
    counters: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    gauges: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    histograms: Mutex<BTreeMap<String, Arc<Count>>>,
}

fn render(key: &Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let mut map = self.counters.lock().unwrap();
        Counter::from_arc(Arc::clone(map.entry(render(key)).or_default()))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let mut map = self.gauges.lock().unwrap();
        Gauge::from_arc(Arc::clone(map.entry(render(key)).or_default()))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let mut map = self.histograms.lock().unwrap();
        Histogram::from_arc(Arc::clone(map.entry(render(key)).or_default()))
    }
}

impl TestRecorder {
    fn counter(&self, key: &str) -> u64 {
        self.counters
            .lock()
            .unwrap()
            .get(key)
            .map_or(0, |v| v.load(Ordering::Relaxed))
    }

    fn gauge(&self, key: &str) -> f64 {
        self.gauges
            .lock()
            .unwrap()
            .get(key)
            .map_or(f64::NAN, |v| f64::from_bits(v.load(Ordering::Relaxed)))
    }

    fn histogram_count(&self, key: &str) -> u64 {
        self.histograms
            .lock()
            .unwrap()
            .get(key)
            .map_or(0, |v| v.0.load(Ordering::Relaxed))
    }
}

#[test]
fn metrics_are_recorded_with_fixed_labels() {
    let recorder = TestRecorder::default();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mock = MockSmsc::start(|_, i| match i {
                0 => Reply::Status(0x58, Body::Empty),
                2 => Reply::Silent,
                _ => Reply::Ok(format!("{i}")),
            })
            .await;
            let mut cfg = test_config(mock.port);
            cfg.name = "acme".into();
            cfg.response_timeout_ms = 300;
            let (client, _inbound) = SmppClient::start(cfg).expect("start");
            assert!(client.wait_until_bound(1, WAIT).await);
            // Throttled then accepted; then a timeout (outcome unknown).
            let first = client
                .submit(SubmitRequest::new("ACME", "447700900001", "a", 1))
                .await
                .expect("submit");
            assert!(first.all_accepted());
            let second = client
                .submit(SubmitRequest::new("ACME", "447700900002", "b", 1))
                .await
                .expect("submit");
            assert!(second.any_outcome_unknown());
            client.shutdown(Duration::from_secs(1)).await;
        });
    });

    let carrier = "carrier=acme";
    assert_eq!(
        recorder.counter(&format!("{}{{{carrier}}}", Metric::Throttled.name())),
        1
    );
    assert_eq!(
        recorder.counter(&format!(
            "{}{{{carrier},command=submit_sm_resp,status=0x00000058}}",
            Metric::Responses.name()
        )),
        1
    );
    assert_eq!(
        recorder.counter(&format!(
            "{}{{{carrier},command=submit_sm_resp,status=0x00000000}}",
            Metric::Responses.name()
        )),
        1
    );
    assert_eq!(
        recorder.counter(&format!(
            "{}{{{carrier},reason=timeout}}",
            Metric::OutcomeUnknown.name()
        )),
        1
    );
    // The accepted submit, in its lane (the default, transactional); none in the other lanes.
    for (lane, count) in [(Lane::Otp, 0), (Lane::Transactional, 1), (Lane::Bulk, 0)] {
        assert_eq!(
            recorder.histogram_count(&format!(
                "{}{{{carrier},lane={}}}",
                Metric::SubmitLatency.name(),
                lane.label()
            )),
            count,
            "{lane:?}"
        );
    }
    assert_eq!(
        recorder.gauge(&format!("{}{{{carrier}}}", Metric::WindowInUse.name())),
        0.0
    );
    assert_eq!(
        recorder.gauge(&format!("{}{{{carrier}}}", Metric::SessionsBound.name())),
        0.0
    );
    // One queue depth gauge per lane, back to zero once everything was sent.
    for lane in Lane::ALL {
        assert_eq!(
            recorder.gauge(&format!(
                "{}{{{carrier},lane={}}}",
                Metric::QueueDepth.name(),
                lane.label()
            )),
            0.0,
            "{lane:?}"
        );
    }
    // No label value carries an id or a number other than a status code.
    for key in recorder.counters.lock().unwrap().keys() {
        assert!(key.starts_with("smsflow_smpp_"), "{key}");
        assert!(!key.contains("4477"), "{key}");
    }
}
