//! The testkit's network-fault suite on the sink, at-least-once and exactly-once,
//! through a fault proxy in front of the test server: cuts with short and long
//! refusal, latency and short stalls lose nothing, duplicate nothing under
//! exactly-once, and need no restart (a lost session is replaced, its server process
//! ended, and the checkpoint's rows sent again into a new transaction; a `PREPARE`
//! whose answer was lost is looked up in `pg_prepared_xacts`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::ToTable;
use connector_base::DeliveryGuarantee;
use connector_testkit::NetworkSuite;
use connector_testkit::proxy::FaultProxy;

async fn rides_through_network_faults(guarantee: DeliveryGuarantee) {
    let Some(url) = common::server().await else { return };
    let proxy = FaultProxy::for_endpoint(&url).await.unwrap();
    let via = proxy.endpoint_for(&url);
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(60));
    suite
        .run_sink(|| async {
            let mut target = ToTable::new("net", guarantee).await.map(Arc::unwrap_or_clone).expect("the server");
            // Batches of 10 rows, 5 per checkpoint and subtask: most cuts land on a
            // session whose transaction holds rows.
            (target.via, target.batch_size) = (via.clone(), 10);
            Arc::new(target)
        })
        .await
        .unwrap();
    let stats = proxy.stats();
    assert!(stats.cut + stats.refused > 0, "the faults reached the sessions: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_sink_rides_through_network_faults() {
    rides_through_network_faults(DeliveryGuarantee::AtLeastOnce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_sink_rides_through_network_faults() {
    rides_through_network_faults(DeliveryGuarantee::ExactlyOnce).await;
}
