//! Unit tests of AsyncSinkWriter against a scripted in-memory client, with tokio's
//! paused clock so that time-based behaviour is exact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_base::async_sink::{
    AsyncSinkClient, AsyncSinkConfig, AsyncSinkConfigBuilder, AsyncSinkWriter, SubmitResult,
};
use stream_core::api::SinkWriter;
use tokio::time::Instant;

/// Entries are numbers; an entry's size is its `size` field.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Entry {
    id: u64,
    size: usize,
}

type Script = Box<dyn Fn(&[Entry], usize) -> SubmitResult<Entry> + Send + Sync>;

/// Records every request; `script(batch, request_number)` decides the answer.
struct FakeClient {
    requests: Mutex<Vec<(Instant, Vec<u64>)>>,
    accepted: Mutex<BTreeMap<u64, usize>>,
    delay: Duration,
    concurrent: AtomicUsize,
    max_concurrent: AtomicUsize,
    script: Script,
}

impl FakeClient {
    fn new(script: impl Fn(&[Entry], usize) -> SubmitResult<Entry> + Send + Sync + 'static) -> Self {
        FakeClient {
            requests: Mutex::new(Vec::new()),
            accepted: Mutex::new(BTreeMap::new()),
            delay: Duration::ZERO,
            concurrent: AtomicUsize::new(0),
            max_concurrent: AtomicUsize::new(0),
            script: Box::new(script),
        }
    }

    fn ok() -> Self {
        Self::new(|_, _| SubmitResult::Success)
    }

    fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    fn batch_sizes(&self) -> Vec<usize> {
        self.requests.lock().unwrap().iter().map(|(_, b)| b.len()).collect()
    }

    fn accepted_ids(&self) -> Vec<u64> {
        self.accepted.lock().unwrap().keys().copied().collect()
    }
}

impl AsyncSinkClient for FakeClient {
    type Entry = Entry;

    fn entry_size(&self, entry: &Entry) -> usize {
        entry.size
    }

    async fn submit(&self, batch: Vec<Entry>) -> SubmitResult<Entry> {
        let n = {
            let mut requests = self.requests.lock().unwrap();
            requests.push((Instant::now(), batch.iter().map(|e| e.id).collect()));
            requests.len() - 1
        };
        let now = self.concurrent.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_concurrent.fetch_max(now, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.concurrent.fetch_sub(1, Ordering::SeqCst);
        let result = (self.script)(&batch, n);
        let failed: Vec<u64> = match &result {
            SubmitResult::Success => Vec::new(),
            SubmitResult::Retry(f) => f.iter().map(|e| e.id).collect(),
            SubmitResult::Fatal(_) => batch.iter().map(|e| e.id).collect(),
        };
        let mut accepted = self.accepted.lock().unwrap();
        for e in batch.iter().filter(|e| !failed.contains(&e.id)) {
            *accepted.entry(e.id).or_default() += 1;
        }
        result
    }
}

fn config() -> AsyncSinkConfigBuilder {
    AsyncSinkConfig::builder()
        .max_batch_size(10)
        .max_in_flight_requests(4)
        .max_buffered_requests(100)
        .max_batch_size_in_bytes(10_000)
        .max_record_size_in_bytes(1_000)
        .max_time_in_buffer(Duration::from_secs(3600))
        .retry_backoff(Duration::from_millis(100), Duration::from_secs(1))
}

fn writer(config: AsyncSinkConfigBuilder, client: &Arc<FakeClient>) -> AsyncSinkWriter<u64, FakeClient> {
    AsyncSinkWriter::new(config.build().unwrap(), client.clone(), |id: u64| Ok(Entry { id, size: 10 }), Vec::new())
}

async fn write_all<C: AsyncSinkClient>(w: &mut AsyncSinkWriter<u64, C>, ids: std::ops::Range<u64>) {
    let mut batch: Vec<u64> = ids.collect();
    w.write_batch(&mut batch).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn batches_are_cut_at_max_batch_size_and_the_rest_is_sent_at_end_of_input() {
    let client = Arc::new(FakeClient::ok());
    let mut w = writer(config(), &client);
    write_all(&mut w, 0..25).await;
    w.flush(true).await.unwrap();
    assert_eq!(client.batch_sizes(), vec![10, 10, 5]);
    assert_eq!(client.accepted_ids(), (0..25).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn batches_are_cut_at_max_batch_size_in_bytes() {
    let client = Arc::new(FakeClient::ok());
    let mut w = AsyncSinkWriter::new(
        config().max_batch_size_in_bytes(250).max_record_size_in_bytes(100).build().unwrap(),
        client.clone(),
        |id: u64| Ok(Entry { id, size: 100 }),
        Vec::new(),
    );
    let mut ids: Vec<u64> = (0..5).collect();
    w.write_batch(&mut ids).await.unwrap();
    w.flush(true).await.unwrap();
    assert_eq!(client.batch_sizes(), vec![2, 2, 1]);
}

#[tokio::test(start_paused = true)]
async fn a_partial_batch_is_sent_after_max_time_in_buffer_without_any_flush() {
    let client = Arc::new(FakeClient::ok());
    let mut w = writer(config().max_time_in_buffer(Duration::from_millis(500)), &client);
    let start = Instant::now();
    write_all(&mut w, 0..3).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(client.batch_sizes().is_empty(), "not due before 500 ms");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(client.batch_sizes(), vec![3]);
    let sent_at = client.requests.lock().unwrap()[0].0;
    assert!(sent_at - start >= Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn a_record_larger_than_max_record_size_is_a_clear_error() {
    let client = Arc::new(FakeClient::ok());
    let mut w = AsyncSinkWriter::new(
        config().build().unwrap(),
        client.clone(),
        |id: u64| Ok(Entry { id, size: id as usize }),
        Vec::new(),
    );
    let err = w.write(2_000).await.unwrap_err().to_string();
    assert!(err.contains("record of 2000 bytes exceeds max_record_size_in_bytes = 1000"), "{err}");
    w.write(5).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn no_more_than_max_in_flight_requests_run_at_once() {
    let client = Arc::new(FakeClient::ok().delay(Duration::from_millis(50)));
    let mut w = writer(config().max_in_flight_requests(2), &client);
    write_all(&mut w, 0..95).await;
    w.flush(true).await.unwrap();
    assert_eq!(client.max_concurrent.load(Ordering::SeqCst), 2);
    assert_eq!(client.accepted_ids().len(), 95);
}

#[tokio::test(start_paused = true)]
async fn partial_failures_are_retried_with_backoff_and_only_the_failed_entries() {
    // The first request fails its odd entries.
    let client = Arc::new(FakeClient::new(|batch, n| {
        if n == 0 {
            SubmitResult::Retry(batch.iter().filter(|e| e.id % 2 == 1).cloned().collect())
        } else {
            SubmitResult::Success
        }
    }));
    let mut w = writer(config().max_in_flight_requests(1), &client);
    write_all(&mut w, 0..10).await;
    w.flush(true).await.unwrap();
    let requests = client.requests.lock().unwrap().clone();
    assert_eq!(requests[0].1, (0..10).collect::<Vec<_>>());
    assert_eq!(requests[1].1, vec![1, 3, 5, 7, 9], "only the failed entries are sent again");
    // 100 ms of backoff, less at most 10 % of jitter.
    assert!(requests[1].0 - requests[0].0 >= Duration::from_millis(90), "retry waits for the backoff");
    let accepted = client.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 10);
    assert!(accepted.values().all(|n| *n == 1), "each entry accepted once: {accepted:?}");
}

#[tokio::test(start_paused = true)]
async fn a_fatal_failure_fails_the_writer_with_the_connectors_error() {
    // The connector's error (here an io::Error standing in for a client's) stays
    // reachable under the writer's.
    let client = Arc::new(FakeClient::new(|_, _| {
        let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "stream `orders` not found");
        SubmitResult::Fatal(stream_core::StreamError::connector(missing))
    }));
    let mut w = writer(config(), &client);
    write_all(&mut w, 0..10).await;
    let error = w.flush(true).await.unwrap_err();
    let kept = error.find::<std::io::Error>().map(std::io::Error::kind);
    assert_eq!(kept, Some(std::io::ErrorKind::NotFound), "{error:?}");
    let err = error.to_string();
    assert!(err.contains("not retryable") && err.contains("stream `orders` not found"), "{err}");
    assert!(w.write(1).await.is_err(), "the writer stays failed");
}

#[tokio::test(start_paused = true)]
async fn aimd_halves_the_in_flight_limit_on_failure_and_grows_it_on_success() {
    // batch 10 x in-flight 1: limit 10. Request 0 fails entirely -> limit 5.
    let client =
        Arc::new(FakeClient::new(
            |batch, n| {
                if n == 0 { SubmitResult::Retry(batch.to_vec()) } else { SubmitResult::Success }
            },
        ));
    let mut w = writer(config().max_in_flight_requests(1), &client);
    write_all(&mut w, 0..40).await;
    w.flush(true).await.unwrap();
    let sizes = client.batch_sizes();
    assert_eq!(sizes[0], 10);
    assert_eq!(sizes[1], 5, "halved after the failure: {sizes:?}");
    assert_eq!(sizes[2], 10, "grown back (+10, capped at 10): {sizes:?}");
    assert_eq!(client.accepted_ids().len(), 40);
}

#[tokio::test(start_paused = true)]
async fn writes_wait_when_the_buffer_is_full() {
    // Requests never finish: 1 in flight (10 entries), then the buffer fills.
    let client = Arc::new(FakeClient::ok().delay(Duration::from_secs(3600)));
    let mut w = writer(config().max_in_flight_requests(1).max_buffered_requests(20), &client);
    for id in 0..30 {
        w.write(id).await.unwrap();
    }
    let blocked = tokio::time::timeout(Duration::from_secs(10), async {
        for id in 30..100 {
            w.write(id).await.unwrap();
        }
    })
    .await;
    assert!(blocked.is_err(), "writes must wait while the buffer is full (back-pressure)");
}

#[tokio::test(start_paused = true)]
async fn a_checkpoint_waits_for_in_flight_requests_and_snapshots_buffered_entries_which_a_restore_sends() {
    let client = Arc::new(FakeClient::ok().delay(Duration::from_millis(30)));
    let mut w = writer(config(), &client);
    write_all(&mut w, 0..14).await; // one full batch in flight, 4 buffered
    w.flush(false).await.unwrap();
    assert_eq!(client.accepted_ids(), (0..10).collect::<Vec<_>>(), "in-flight request finished before the snapshot");
    let state = w.snapshot_state(1).unwrap();
    assert_eq!(state.iter().map(|e| e.id).collect::<Vec<_>>(), vec![10, 11, 12, 13]);
    drop(w); // the job crashes

    let restored = Arc::new(FakeClient::ok());
    let mut w =
        AsyncSinkWriter::new(config().build().unwrap(), restored.clone(), |id: u64| Ok(Entry { id, size: 10 }), state);
    w.flush(true).await.unwrap();
    assert_eq!(restored.accepted_ids(), vec![10, 11, 12, 13]);
}

#[tokio::test(start_paused = true)]
async fn a_request_timeout_retries_or_fails_as_configured() {
    let slow_first = || {
        let client = FakeClient::new(|_, _| SubmitResult::Success);
        Arc::new(client)
    };
    // Every request takes 2 s, the timeout is 1 s: with retry it never succeeds, so
    // use a client that is slow only once.
    let calls = Arc::new(AtomicUsize::new(0));
    let inner = slow_first();
    let client =
        Arc::new(SlowFirst { inner: inner.clone(), calls: calls.clone(), first_takes: Some(Duration::from_secs(2)) });
    let mut w = AsyncSinkWriter::new(
        config().request_timeout(Duration::from_secs(1), false).build().unwrap(),
        client,
        |id: u64| Ok(Entry { id, size: 10 }),
        Vec::new(),
    );
    write_all(&mut w, 0..10).await;
    w.flush(true).await.unwrap();
    assert_eq!(inner.accepted_ids(), (0..10).collect::<Vec<_>>(), "timed-out request retried");
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let calls = Arc::new(AtomicUsize::new(0));
    let client = Arc::new(SlowFirst { inner: slow_first(), calls, first_takes: Some(Duration::from_secs(2)) });
    let mut w = AsyncSinkWriter::new(
        config().request_timeout(Duration::from_secs(1), true).build().unwrap(),
        client,
        |id: u64| Ok(Entry { id, size: 10 }),
        Vec::new(),
    );
    write_all(&mut w, 0..10).await;
    let err = w.flush(true).await.unwrap_err().to_string();
    assert!(err.contains("request_timeout") && err.contains("within 1s"), "{err}");
}

/// A client whose first request takes `first_takes`, or never gets an answer with
/// `None` (a connection gone silent); the others are `inner`'s.
struct SlowFirst {
    inner: Arc<FakeClient>,
    calls: Arc<AtomicUsize>,
    first_takes: Option<Duration>,
}

impl AsyncSinkClient for SlowFirst {
    type Entry = Entry;
    fn entry_size(&self, e: &Entry) -> usize {
        e.size
    }
    async fn submit(&self, batch: Vec<Entry>) -> SubmitResult<Entry> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            match self.first_takes {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending::<()>().await,
            }
        }
        self.inner.submit(batch).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_request_past_call_timeout_is_sent_again_and_without_it_fails_at_request_timeout() {
    let run = |call_timeout: Option<Duration>| async move {
        let inner = Arc::new(FakeClient::ok());
        let calls = Arc::new(AtomicUsize::new(0));
        let client = Arc::new(SlowFirst { inner: inner.clone(), calls: calls.clone(), first_takes: None });
        let config = config().request_timeout(Duration::from_secs(10), true).call_timeout(call_timeout);
        let mut w =
            AsyncSinkWriter::new(config.build().unwrap(), client, |id: u64| Ok(Entry { id, size: 10 }), Vec::new());
        let started = Instant::now();
        write_all(&mut w, 0..10).await;
        let flushed = w.flush(true).await.map_err(|e| e.to_string());
        (flushed, started.elapsed(), inner.accepted_ids(), calls.load(Ordering::SeqCst))
    };
    let (flushed, took, accepted, calls) = run(Some(Duration::from_secs(1))).await;
    assert_eq!(flushed, Ok(()));
    assert_eq!(accepted, (0..10).collect::<Vec<_>>(), "the silent request's entries were sent again");
    assert_eq!(calls, 2);
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(2), "sent again after {took:?}");

    let (flushed, took, accepted, _) = run(None).await;
    let err = flushed.unwrap_err();
    assert!(err.contains("request_timeout"), "{err}");
    assert!(took >= Duration::from_secs(10), "failed after {took:?}");
    assert!(accepted.is_empty());
}

#[tokio::test(start_paused = true)]
async fn retries_count_against_the_request_timeout() {
    // Every request fails fast and transiently (a dead connection): the entries must
    // fail the writer once the timeout passed since they were first sent, not be
    // retried for ever one quick failure at a time.
    let client = Arc::new(FakeClient::new(|batch, _| SubmitResult::Retry(batch.to_vec())));
    let started = Instant::now();
    let mut w = writer(config().request_timeout(Duration::from_secs(5), true), &client);
    write_all(&mut w, 0..10).await;
    let err = w.flush(true).await.unwrap_err().to_string();
    let took = started.elapsed();
    assert!(err.contains("request_timeout"), "{err}");
    assert!(took >= Duration::from_secs(5) && took < Duration::from_millis(5_100), "failed after {took:?}");
    let requests = client.requests.lock().unwrap().iter().map(|(t, b)| (*t - started, b.len())).collect::<Vec<_>>();
    assert!(requests.len() > 3, "retried meanwhile: {requests:?}");
    assert!(client.accepted_ids().is_empty());
}

/// FLIP-33 sink metrics: bytes of accepted entries only, failed entries as errors,
/// the request's time as send time.
#[test]
fn bytes_errors_and_send_time_are_reported_to_the_sink_metrics() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use stream_core::api::TaskContext;

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(async {
            // The first request takes 250 ms and refuses its odd entries; later ones take 250 ms too.
            let client = Arc::new(
                FakeClient::new(|batch, n| {
                    if n == 0 {
                        SubmitResult::Retry(batch.iter().filter(|e| e.id % 2 == 1).cloned().collect())
                    } else {
                        SubmitResult::Success
                    }
                })
                .delay(Duration::from_millis(250)),
            );
            let ctx = TaskContext { job: "j".into(), name: "sink".into(), connector: "fake", ..TaskContext::default() };
            let mut w = AsyncSinkWriter::with_metrics(
                config().build().unwrap(),
                client.clone(),
                |id: u64| Ok(Entry { id, size: 10 + id as usize }),
                Vec::new(),
                ctx.sink_metrics(),
            );
            w.write_batch(&mut (0..10).collect()).await.unwrap();
            w.flush(true).await.unwrap();
            assert_eq!(client.accepted_ids(), (0..10).collect::<Vec<_>>());
        });
    });
    let values = snapshotter.snapshot().into_vec();
    let value = |name: &str| {
        values.iter().find(|(key, _, _, _)| {
            key.key().name() == name && key.key().labels().any(|l| l.key() == "connector" && l.value() == "fake")
        })
    };
    let counter = |name: &str| match value(name) {
        Some((_, _, _, DebugValue::Counter(n))) => *n,
        other => panic!("{name}: {other:?}"),
    };
    // Sizes 10..=19: every entry once, the refused odd ones counted when accepted.
    assert_eq!(counter("connector_sink_bytes_out_total"), (10..20).sum::<u64>());
    assert_eq!(counter("connector_sink_records_out_errors_total"), 5);
    match value("connector_sink_send_time_seconds") {
        Some((_, _, _, DebugValue::Gauge(t))) => assert_eq!(t.into_inner(), 0.25),
        other => panic!("send time: {other:?}"),
    }
}
