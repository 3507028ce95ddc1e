//! Helpers for tests of the Elasticsearch and OpenSearch sinks (connector-search)
//! against a real cluster: a client for one URL, index set-up, reading every document
//! back with a scroll, and the checks both sinks run.

use serde_json::{Value, json};

use connector_search::{Backend, Body, BulkTransport, Connection, HttpAnswer, Method};

/// A transport of `B` to the cluster at `url`, without credentials.
pub fn transport<B: Backend>(url: &str) -> Result<B::Transport, String> {
    let hosts = vec![url::Url::parse(url).map_err(|e| format!("{url}: {e}"))?];
    B::transport(&Connection { hosts, ..Connection::default() })
}

async fn call<T: BulkTransport>(t: &T, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
    let body = body.map(|b| Body::json(b.to_string().into_bytes()));
    let HttpAnswer { status, body } = t.send(method, path, body).await?;
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if (200..300).contains(&status) { Ok(value) } else { Err(format!("{path}: {status} {value}")) }
}

/// Create `index` with `mappings` (`{"properties": ...}`), if given.
pub async fn create_index<T: BulkTransport>(t: &T, index: &str, mappings: Option<Value>) -> Result<(), String> {
    let body = mappings.map(|m| json!({ "mappings": m }));
    call(t, Method::Put, &format!("/{index}"), body.or(Some(json!({})))).await.map(drop)
}

/// Make everything written to `index` visible to searches.
pub async fn refresh<T: BulkTransport>(t: &T, index: &str) -> Result<(), String> {
    call(t, Method::Post, &format!("/{index}/_refresh"), None).await.map(drop)
}

/// Every document of `index` (`_id` and `_source`), after a refresh, read with a
/// scroll of 1000 at a time.
pub async fn all_documents<T: BulkTransport>(t: &T, index: &str) -> Result<Vec<(String, Value)>, String> {
    refresh(t, index).await?;
    let mut page = call(t, Method::Post, &format!("/{index}/_search?scroll=1m"), Some(json!({"size": 1000}))).await?;
    let mut documents = Vec::new();
    loop {
        let hits = page["hits"]["hits"].as_array().cloned().unwrap_or_default();
        if hits.is_empty() {
            return Ok(documents);
        }
        for hit in hits {
            documents.push((hit["_id"].as_str().unwrap_or_default().to_string(), hit["_source"].clone()));
        }
        let scroll_id = page["_scroll_id"].as_str().ok_or("no _scroll_id")?.to_string();
        page = call(t, Method::Post, "/_search/scroll", Some(json!({"scroll": "1m", "scroll_id": scroll_id}))).await?;
    }
}

/// A fresh index on a real cluster as the sink suite's target: record `id` becomes
/// the document `{"id": id}`; with exactly-once its document id is `id` too, with
/// at-least-once the cluster makes one up (so a replay shows as a duplicate).
pub struct IndexTarget<B: Backend> {
    /// The cluster, for reading back.
    pub url: String,
    /// Where the sink connects, if not `url` (a fault proxy).
    pub via: Option<String>,
    /// The index.
    pub index: String,
    /// The guarantee asked of the sink.
    pub guarantee: connector_base::DeliveryGuarantee,
    /// Options of the sink beyond the tests' own.
    pub configure: fn(connector_search::SearchSinkBuilder<u64, B>) -> connector_search::SearchSinkBuilder<u64, B>,
}

impl<B: Backend> IndexTarget<B> {
    /// A fresh index named after `test` on the cluster at `url` (`id` mapped as a
    /// long).
    pub async fn new(url: &str, test: &str, guarantee: connector_base::DeliveryGuarantee) -> Result<Self, String> {
        let index = format!("{test}-{}-{}", std::process::id(), fastrand::u32(..)).to_lowercase().replace('_', "-");
        let t = transport::<B>(url)?;
        create_index(&t, &index, Some(json!({"properties": {"id": {"type": "long"}}}))).await?;
        Ok(IndexTarget { url: url.to_string(), via: None, index, guarantee, configure: |b| b })
    }
}

impl<B: Backend> crate::SinkTarget for IndexTarget<B> {
    type Record = u64;
    type Sink = connector_search::SearchSink<u64, B>;

    fn guarantee(&self) -> connector_base::DeliveryGuarantee {
        self.guarantee
    }

    fn record(&self, id: u64) -> u64 {
        id
    }

    fn sink(&self) -> Self::Sink {
        let index = self.index.clone();
        let by_id = self.guarantee == connector_base::DeliveryGuarantee::ExactlyOnce;
        let emitter = move |id: &u64| {
            let action = connector_search::Action::index(index.as_str(), &json!({ "id": id }))?;
            Ok(if by_id { action.id(id.to_string()) } else { action })
        };
        let builder =
            connector_search::SearchSinkBuilder::<u64, B>::new([self.via.as_deref().unwrap_or(&self.url)], emitter)
                .delivery_guarantee(self.guarantee)
                .max_time_in_buffer(std::time::Duration::from_millis(50));
        // A target that cannot build its sink is a broken test set-up.
        #[allow(clippy::expect_used)]
        (self.configure)(builder).build().expect("the test sink's options are valid")
    }

    async fn read_back(&self) -> Result<Vec<u64>, crate::TestkitError> {
        let failed = |e: String| crate::TestkitError::Target(format!("reading {} back: {e}", self.index));
        let t = transport::<B>(&self.url).map_err(failed)?;
        let documents = all_documents(&t, &self.index).await.map_err(failed)?;
        documents
            .iter()
            .map(|(id, source)| {
                source["id"].as_u64().ok_or_else(|| failed(format!("document {id} has no id: {source}")))
            })
            .collect()
    }
}

/// Run `records` through a sink of `B` built by `configure` from a builder writing to
/// `url` with `emitter` (parallelism 1, no restart): the job's result.
pub async fn run<B: Backend, T: Clone + Send + Sync + 'static>(
    records: Vec<T>,
    builder: connector_search::SearchSinkBuilder<T, B>,
) -> stream_core::Result<stream_core::JobResult> {
    use stream_core::prelude::*;
    let env = StreamEnvironment::builder().parallelism(1).restart_strategy(RestartStrategy::None).build()?;
    let sink = builder.build()?;
    env.from_source(CollectionSource::new(records), "records").sink_to(sink, "search").execute("search-sink").await
}

/// The scenario of refused documents, on the cluster at `url`: 100 records, every
/// tenth with a value its index mapping refuses (a string for a long). With
/// `DropAndCount` the other 90 land; with `Handle` the handler gets the 10, each with
/// its status, error type and id; with `Fail` (the default) the job fails naming the
/// index, the id and the server's reason. Panics (it is a test) when any of it does
/// not hold.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub async fn refused_documents_follow_the_policy<B: Backend>(url: &str) {
    use std::sync::{Arc, Mutex};
    let t = transport::<B>(url).unwrap();
    let fresh = async |name: &str| {
        let index = format!("{name}-{}-{}", std::process::id(), fastrand::u32(..));
        create_index(&t, &index, Some(json!({"properties": {"n": {"type": "long"}}}))).await.unwrap();
        index
    };
    let emitter = |index: String| {
        move |n: &u64| {
            let value = if n.is_multiple_of(10) { json!(format!("not-a-number-{n}")) } else { json!(n) };
            Ok(connector_search::Action::index(index.as_str(), &json!({ "n": value }))?.id(n.to_string()))
        }
    };
    let records: Vec<u64> = (0..100).collect();

    let index = fresh("refused-drop").await;
    let builder = connector_search::SearchSinkBuilder::<u64, B>::new([url], emitter(index.clone()))
        .failure_policy(connector_search::FailurePolicy::DropAndCount);
    run(records.clone(), builder).await.expect("dropping refused documents, the job succeeds");
    assert_eq!(all_documents(&t, &index).await.unwrap().len(), 90, "the good documents of each bulk landed");

    let index = fresh("refused-handle").await;
    let handed: Arc<Mutex<Vec<connector_search::RejectedAction>>> = Arc::default();
    let into = handed.clone();
    let policy = connector_search::FailurePolicy::handle(move |rejected| into.lock().unwrap().push(rejected));
    let builder =
        connector_search::SearchSinkBuilder::<u64, B>::new([url], emitter(index.clone())).failure_policy(policy);
    run(records.clone(), builder).await.expect("handing refused documents on, the job succeeds");
    assert_eq!(all_documents(&t, &index).await.unwrap().len(), 90);
    let handed = std::mem::take(&mut *handed.lock().unwrap());
    let mut ids: Vec<u64> = handed.iter().map(|r| r.action.document_id().unwrap().parse().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..100).step_by(10).collect::<Vec<u64>>(), "exactly the refused ones were handed on");
    assert!(
        handed.iter().all(|r| r.status == 400 && r.error_type.contains("parsing")),
        "status and type: {:?}",
        handed[0]
    );
    assert!(handed[0].action.document().is_some_and(|d| d.starts_with(b"{\"n\":\"not-a-number")));

    let index = fresh("refused-fail").await;
    let builder = connector_search::SearchSinkBuilder::<u64, B>::new([url], emitter(index.clone()));
    let Err(error) = run(records, builder).await else { panic!("a refused document fails the job by default") };
    let error = error.to_string();
    assert!(error.contains(&format!("index `{index}` id `0`")), "names the index and id: {error}");
    assert!(
        error.contains("400") && error.contains("not-a-number-0"),
        "says the status and the server's reason: {error}"
    );
    assert!(error.contains("failure_policy"), "says what to do: {error}");
}

/// The scenario of bad input, on the cluster at `url` (and a closed port): each fails
/// with an error naming what is wrong, and nothing is written. Panics when not.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub async fn bad_input_is_named<B: Backend>(url: &str) {
    let index = format!("bad-input-{}-{}", std::process::id(), fastrand::u32(..));
    let t = transport::<B>(url).unwrap();
    create_index(&t, &index, None).await.unwrap();
    let by_id = {
        let index = index.clone();
        move |n: &u64| Ok(connector_search::Action::index(index.as_str(), &json!({ "n": n }))?.id(n.to_string()))
    };

    // Nobody listens on the port: the writers give up after connect_timeout.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let nowhere = format!("http://{closed}");
    let builder = connector_search::SearchSinkBuilder::<u64, B>::new([nowhere.as_str()], by_id.clone())
        .connect_timeout(std::time::Duration::from_secs(1));
    let error = run(vec![1], builder).await.expect_err("an unreachable host fails").to_string();
    assert!(error.contains(&nowhere) && error.contains("connect_timeout"), "{error}");

    // Exactly-once with ids the cluster makes up.
    let generated = {
        let index = index.clone();
        move |n: &u64| connector_search::Action::index(index.as_str(), &json!({ "n": n }))
    };
    let builder = connector_search::SearchSinkBuilder::<u64, B>::new([url], generated)
        .delivery_guarantee(connector_base::DeliveryGuarantee::ExactlyOnce);
    let error = run(vec![1], builder).await.expect_err("exactly-once needs ids").to_string();
    assert!(error.contains("deterministic id") && error.contains(&index), "{error}");

    // A document larger than max_record_size_in_bytes.
    let big = {
        let index = index.clone();
        move |n: &u64| connector_search::Action::index(index.as_str(), &json!({ "n": n, "pad": "x".repeat(2048) }))
    };
    let builder = connector_search::SearchSinkBuilder::<u64, B>::new([url], big).max_record_size_in_bytes(1024);
    let error = run(vec![1], builder).await.expect_err("a document over the limit fails").to_string();
    assert!(error.contains("1024") || error.contains("max_record_size"), "{error}");

    // An index name the server would refuse.
    let upper = |n: &u64| connector_search::Action::index("Upper", &json!({ "n": n }));
    let error =
        run(vec![1], connector_search::SearchSinkBuilder::<u64, B>::new([url], upper)).await.expect_err("bad name");
    assert!(error.to_string().contains("`Upper` has upper-case letters"), "{error}");

    // Options.
    let options =
        |b: connector_search::SearchSinkBuilder<u64, B>| b.build().err().map(|e| e.to_string()).unwrap_or_default();
    let base = || connector_search::SearchSinkBuilder::<u64, B>::new([url], by_id.clone());
    assert!(
        options(connector_search::SearchSinkBuilder::<u64, B>::new(["localhost:9200"], by_id.clone()))
            .contains("`hosts`")
    );
    let with_password = connector_search::SearchSinkBuilder::<u64, B>::new(["http://u:secret@h:9200"], by_id.clone());
    let error = options(with_password);
    assert!(error.contains("basic_auth") && !error.contains("secret"), "{error}");
    let at_most_once = base().delivery_guarantee(connector_base::DeliveryGuarantee::AtMostOnce);
    assert!(options(at_most_once).contains("`delivery_guarantee`"));
    assert!(options(base().ca_certificate_pem(b"nope".to_vec())).contains("`ca_certificate_pem`"));
    assert!(options(base().connect_timeout(std::time::Duration::ZERO)).contains("`connect_timeout`"));
    let in_flight = base().delivery_guarantee(connector_base::DeliveryGuarantee::ExactlyOnce).max_in_flight_requests(4);
    assert!(options(in_flight).contains("`max_in_flight_requests`"));

    assert!(all_documents(&t, &index).await.unwrap().is_empty(), "nothing was written");
}

/// A small HTTP front to a real cluster that answers the first `refuse` bulk
/// requests with 429 (as a busy cluster does) and forwards every other request to
/// `upstream`, one request per connection. No test server can be made to answer 429;
/// everything else still comes from the real one. Returns its URL and the count of
/// 429s sent.
pub async fn busy_front(
    upstream: &str,
    refuse: usize,
) -> Result<(String, std::sync::Arc<std::sync::atomic::AtomicUsize>), String> {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    let upstream = url::Url::parse(upstream).map_err(|e| e.to_string())?;
    let upstream =
        format!("{}:{}", upstream.host_str().unwrap_or("127.0.0.1"), upstream.port_or_known_default().unwrap_or(80));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    let refused = Arc::new(AtomicUsize::new(0));
    let counter = refused.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (upstream, counter) = (upstream.clone(), counter.clone());
            tokio::spawn(async move {
                let _ = serve_one(client, &upstream, &counter, refuse).await;
            });
        }
    });
    Ok((url, refused))
}

/// One request of [`busy_front`]: answered 429, or forwarded with `Connection: close`.
async fn serve_one(
    mut client: tokio::net::TcpStream,
    upstream: &str,
    refused: &std::sync::atomic::AtomicUsize,
    refuse: usize,
) -> std::io::Result<()> {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&chunk[..n]);
        if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0);
    while request.len() < head_end + length {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&chunk[..n]);
    }
    let bulk = head.starts_with("POST /_bulk");
    if bulk && refused.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < refuse).then_some(n + 1)).is_ok() {
        let body = r#"{"error":{"type":"es_rejected_execution_exception","reason":"rejected execution (test front)"},"status":429}"#;
        let answer = format!(
            "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        return client.write_all(answer.as_bytes()).await;
    }
    // The same request with `Connection: close`, so that the answer ends with the
    // upstream connection.
    let mut lines: Vec<&str> =
        head[..head.len() - 4].split("\r\n").filter(|l| !l.to_ascii_lowercase().starts_with("connection:")).collect();
    lines.push("connection: close");
    let mut forwarded = lines.join("\r\n").into_bytes();
    forwarded.extend_from_slice(b"\r\n\r\n");
    forwarded.extend_from_slice(&request[head_end..]);
    let mut server = tokio::net::TcpStream::connect(upstream).await?;
    server.write_all(&forwarded).await?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).await?;
    client.write_all(&answer).await?;
    client.shutdown().await
}

/// The 429 scenario on the cluster at `url`, through [`busy_front`]: the first 3 bulk
/// requests get 429 and are sent again; every document lands once (ids), with no
/// restart. With `max_retries_per_action(1)` and 5 refusals, the job fails naming
/// the option. Panics when not.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub async fn a_busy_cluster_is_retried<B: Backend>(url: &str) {
    use std::sync::atomic::Ordering;
    let index = format!("busy-{}-{}", std::process::id(), fastrand::u32(..));
    let t = transport::<B>(url).unwrap();
    create_index(&t, &index, None).await.unwrap();
    let by_id = {
        let index = index.clone();
        move |n: &u64| Ok(connector_search::Action::index(index.as_str(), &json!({ "n": n }))?.id(n.to_string()))
    };
    let (front, refused) = busy_front(url, 3).await.unwrap();
    let builder = connector_search::SearchSinkBuilder::<u64, B>::new([front.as_str()], by_id.clone())
        .max_batch_size(100)
        .retry_backoff(std::time::Duration::from_millis(10), std::time::Duration::from_millis(100));
    let result = run((0..1000).collect(), builder).await.expect("429s are retried");
    assert_eq!(result.restarts, 0);
    assert_eq!(refused.load(Ordering::SeqCst), 3, "the front answered 429 three times");
    let mut ns: Vec<u64> =
        all_documents(&t, &index).await.unwrap().iter().filter_map(|(_, s)| s["n"].as_u64()).collect();
    ns.sort_unstable();
    assert_eq!(ns, (0..1000).collect::<Vec<u64>>(), "every document once");

    let (front, _) = busy_front(url, 5).await.unwrap();
    let builder = connector_search::SearchSinkBuilder::<u64, B>::new([front.as_str()], by_id)
        .max_retries_per_action(1)
        .retry_backoff(std::time::Duration::from_millis(10), std::time::Duration::from_millis(100));
    let error = run((0..10).collect(), builder).await.expect_err("retries run out").to_string();
    assert!(error.contains("max_retries_per_action") && error.contains("429"), "{error}");
}

/// The benchmark's document `i` (about 100 bytes).
fn bench_document(i: u64) -> Value {
    json!({ "id": i, "payload": format!("{i:012} the quick brown fox jumps over the lazy dog") })
}

/// Documents/s of a raw loop through `B`'s client: bulk requests of `batch` index
/// actions (ids `i`), at most `in_flight` at once, as the sink sends them.
async fn bench_raw<B: Backend>(url: &str, index: &str, n: u64, batch: u64, in_flight: usize) -> f64 {
    #[allow(clippy::expect_used)]
    let t = std::sync::Arc::new(transport::<B>(url).expect("a client"));
    crate::bench::raw_batches(n, batch, in_flight, |range| {
        let (t, index) = (t.clone(), index.to_string());
        async move {
            let mut body = Vec::new();
            for i in range {
                body.extend_from_slice(
                    format!("{{\"index\":{{\"_index\":\"{index}\",\"_id\":\"{i}\"}}}}\n").as_bytes(),
                );
                body.extend_from_slice(bench_document(i).to_string().as_bytes());
                body.push(b'\n');
            }
            #[allow(clippy::expect_used)]
            let answer = t.send(Method::Post, "/_bulk", Some(Body::ndjson(body))).await.expect("bulk answered");
            assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
            assert!(!String::from_utf8_lossy(&answer.body[..answer.body.len().min(64)]).contains("\"errors\":true"));
        }
    })
    .await
}

/// Documents/s of the sink (at-least-once, its defaults: 1000 actions a request, 4
/// in flight; checkpoints every second) writing the same documents.
async fn bench_ours<B: Backend>(url: &str, index: &str, n: u64) -> f64 {
    use stream_core::prelude::*;
    let index = index.to_string();
    let emitter =
        move |i: &u64| Ok(connector_search::Action::index(index.as_str(), &bench_document(*i))?.id(i.to_string()));
    #[allow(clippy::expect_used)]
    let sink = connector_search::SearchSinkBuilder::<u64, B>::new([url], emitter).build().expect("valid options");
    let started = std::time::Instant::now();
    #[allow(clippy::expect_used)]
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(std::time::Duration::from_secs(1)).build().expect("valid"))
        .build()
        .expect("valid")
        .from_source(CollectionSource::sequence(0..n), "documents")
        .sink_to(sink, "search")
        .execute("bench-search")
        .await
        .expect("the job runs");
    n as f64 / started.elapsed().as_secs_f64()
}

/// The benchmark of `B`'s sink on the cluster at `url`: a warm-up, then `rounds`
/// rounds of the raw loop and the sink on fresh indices (order alternating), each
/// round's rates on stderr; the ratio ours / raw of every round.
#[allow(clippy::expect_used)]
pub async fn bench_ratios<B: Backend>(url: &str, n: u64, rounds: usize) -> Vec<f64> {
    let t = transport::<B>(url).expect("a client");
    let fresh = async |side: &str| {
        let index = format!("bench-{side}-{}-{}", std::process::id(), fastrand::u32(..));
        create_index(&t, &index, None).await.expect("index created");
        index
    };
    bench_raw::<B>(url, &fresh("warm-up").await, n / 4, 1000, 4).await;
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let (raw_index, our_index) = (fresh("raw").await, fresh("ours").await);
        let (raw, ours) =
            crate::bench::pair(round, bench_raw::<B>(url, &raw_index, n, 1000, 4), bench_ours::<B>(url, &our_index, n))
                .await;
        eprintln!("round {round}: raw {raw:.0}/s ours {ours:.0}/s ({n} documents)");
        ratios.push(ours / raw);
        for index in [raw_index, our_index] {
            let _ = t.send(Method::Delete, &format!("/{index}"), None).await;
        }
    }
    ratios
}

/// The sink suite of `B` with `config` on a fresh index of the test server `server`
/// (skipped, `None`, when it is not there), its verdict checked against `guarantee`.
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub async fn sink_suite<B: Backend>(
    server: &crate::TestServer,
    test: &str,
    guarantee: connector_base::DeliveryGuarantee,
    config: crate::SuiteConfig,
) -> Option<crate::Verdict> {
    let found = crate::TestServer::discover(server).await.unwrap()?;
    let target = IndexTarget::<B>::new(&found.endpoint, test, guarantee).await.unwrap();
    let verdict = crate::run_sink_suite(std::sync::Arc::new(target), config).await.unwrap();
    verdict.check(guarantee).unwrap();
    Some(verdict)
}

/// The network-fault runs of `B`'s sink (exactly-once) through a fault proxy in front
/// of the test server `server`: the standard faults; live connections silenced for
/// good every 1-2 s with `call_timeout` 2 s (the job must end within 30 s of them);
/// and a stall past `request_timeout` (3 s), which must fail the sink naming it.
/// Panics when any does not hold; skipped when the server is not there.
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub mod network {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::proxy::{FaultProxy, NetworkFault};
    use crate::{NetworkSuite, TestServer};
    use connector_base::DeliveryGuarantee;

    use super::IndexTarget;
    use connector_search::Backend;

    /// The test server and a proxy in front of it.
    async fn proxied(server: &TestServer) -> Option<(String, FaultProxy)> {
        let found = TestServer::discover(server).await.unwrap()?;
        let proxy = FaultProxy::for_endpoint(&found.endpoint).await.unwrap();
        Some((found.endpoint.clone(), proxy))
    }

    /// A fresh index whose sink (exactly-once) writes through `proxy`.
    async fn index<B: Backend>(endpoint: &str, proxy: &FaultProxy, test: &str) -> IndexTarget<B> {
        let mut target = IndexTarget::new(endpoint, test, DeliveryGuarantee::ExactlyOnce).await.unwrap();
        target.via = Some(proxy.endpoint_for(endpoint));
        target
    }

    /// The standard faults: nothing lost or duplicated, no restart.
    pub async fn rides_through_faults<B: Backend>(server: &TestServer) {
        let Some((endpoint, proxy)) = proxied(server).await else { return };
        let suite = NetworkSuite::new(&proxy, Duration::from_secs(30));
        suite.run_sink(|| async { Arc::new(index::<B>(&endpoint, &proxy, "net-sink").await) }).await.unwrap();
        let stats = proxy.stats();
        assert!(stats.cut + stats.refused > 0, "the faults reached the connections: {stats:?}");
    }

    /// Connections silenced for good are left after `call_timeout`.
    pub async fn leaves_silent_connections<B: Backend>(server: &TestServer) {
        let Some((endpoint, proxy)) = proxied(server).await else { return };
        let silences = NetworkFault::Silences { every: Duration::from_millis(1000)..Duration::from_millis(2000) };
        let suite = NetworkSuite::new(&proxy, Duration::from_secs(30)).faults(vec![silences]);
        suite
            .run_sink(|| async {
                let mut target = index::<B>(&endpoint, &proxy, "net-silent").await;
                target.configure = |b| b.call_timeout(Duration::from_secs(2));
                Arc::new(target)
            })
            .await
            .unwrap();
        let stats = proxy.stats();
        eprintln!("proxy: {stats:?}");
        assert!(stats.silenced > 0, "the silences reached live connections: {stats:?}");
    }

    /// A stall past `request_timeout` fails the sink naming it.
    pub async fn fails_a_stall_past_request_timeout<B: Backend>(server: &TestServer) {
        let Some((endpoint, proxy)) = proxied(server).await else { return };
        let mut target = index::<B>(&endpoint, &proxy, "net-stall").await;
        target.configure = |b| b.request_timeout(Duration::from_secs(3));
        let suite = NetworkSuite::new(&proxy, Duration::from_secs(30));
        let timeout = Duration::from_secs(3);
        suite
            .sink_stall_past_timeout(Arc::new(target), timeout, "request_timeout", Duration::from_secs(3))
            .await
            .unwrap();
    }
}

/// Every kind of action against the cluster at `url`, in one job (exactly-once:
/// in order), and the documents it leaves: a second `create` of an id is counted as
/// written and changes nothing; an external version that is not newer changes
/// nothing; `update` with `doc_as_upsert` inserts then merges; `update` with an
/// `upsert` document inserts that one; deleting a missing document succeeds; an
/// indexed then deleted document is gone; a routed document lands. Panics when not.
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub async fn every_action_lands_as_documented<B: Backend>(url: &str) {
    use connector_search::{Action, VersionType};
    let index = format!("actions-{}-{}", std::process::id(), fastrand::u32(..));
    let t = transport::<B>(url).unwrap();
    create_index(&t, &index, None).await.unwrap();
    let i = index.as_str();
    let actions: Vec<Action> = vec![
        Action::create(i, "a", &json!({"v": 1})).unwrap(),
        Action::create(i, "a", &json!({"v": 2})).unwrap(),
        Action::index(i, &json!({"v": 5})).unwrap().id("b").version(5, VersionType::External),
        Action::index(i, &json!({"v": 3})).unwrap().id("b").version(3, VersionType::External),
        Action::update(i, "c", &json!({"v": 1})).unwrap().doc_as_upsert(),
        Action::update(i, "c", &json!({"w": 2})).unwrap().retry_on_conflict(3),
        Action::update(i, "d", &json!({"v": 9})).unwrap().upsert(&json!({"v": 0})).unwrap(),
        Action::delete(i, "e"),
        Action::index(i, &json!({"v": 6})).unwrap().id("f"),
        Action::delete(i, "f"),
        Action::index(i, &json!({"v": 7})).unwrap().id("g").routing("r1"),
        Action::index_json(i, b"{\n  \"v\": 8\n}".to_vec()).unwrap().id("h"),
    ];
    let builder = connector_search::SearchSinkBuilder::<Action, B>::new([url], |a: &Action| Ok(a.clone()))
        .delivery_guarantee(connector_base::DeliveryGuarantee::ExactlyOnce)
        .max_batch_size(3);
    run(actions, builder).await.expect("every action is accepted or counted as written");
    let mut documents = all_documents(&t, &index).await.unwrap();
    documents.sort_by(|x, y| x.0.cmp(&y.0));
    let expected = vec![
        ("a".to_string(), json!({"v": 1})),
        ("b".to_string(), json!({"v": 5})),
        ("c".to_string(), json!({"v": 1, "w": 2})),
        ("d".to_string(), json!({"v": 0})),
        ("g".to_string(), json!({"v": 7})),
        ("h".to_string(), json!({"v": 8})),
    ];
    assert_eq!(documents, expected);
}
