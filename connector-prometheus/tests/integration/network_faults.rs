//! The testkit's network-fault suite on the sink through a fault proxy in front of
//! the test server: cuts with short and long refusal, latency and short stalls lose
//! nothing and need no restart (a failed request is sent again; one whose answer was
//! lost is refused as old on the next try and its samples counted as there).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::ToPrometheus;
use connector_testkit::NetworkSuite;
use connector_testkit::proxy::FaultProxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_rides_through_network_faults() {
    let Some(url) = common::server().await else { return };
    let proxy = FaultProxy::for_endpoint(&url).await.unwrap();
    let via = proxy.endpoint_for(&url);
    // A series per record: the suite runs two subtasks.
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(30));
    suite
        .run_sink(|| async {
            let mut target = ToPrometheus::new("net", 0).await.map(Arc::unwrap_or_clone).expect("the server");
            target.via = via.clone();
            Arc::new(target)
        })
        .await
        .unwrap();
    let stats = proxy.stats();
    assert!(stats.cut + stats.refused > 0, "the faults reached the connections: {stats:?}");
}
