//! Replicas: what one replica of a job reads, for tests that run two replicas side
//! by side and check that their shares are disjoint and cover the input.

use serde::Serialize;
use serde::de::DeserializeOwned;
use stream_core::Replica;
use stream_core::api::Source;
use stream_core::prelude::*;

use crate::TestkitError;

/// Every record the bounded `source` gives a job run as `replica`, at parallelism 2
/// (so that splits also go round readers within the replica), in commit order.
pub async fn read_as_replica<S>(replica: Replica, source: S) -> Result<Vec<S::Output>, TestkitError>
where
    S: Source,
    S::Output: Clone + Serialize + DeserializeOwned + Sync,
{
    let sink = CollectSink::<S::Output>::new();
    StreamEnvironment::builder()
        .replica(replica)
        .parallelism(2)
        .build()?
        .from_source(source, "source")
        .sink_to(sink.clone(), "sink")
        .execute(&format!("replica-{}-of-{}", replica.index(), replica.count()))
        .await?;
    Ok(sink.committed())
}
