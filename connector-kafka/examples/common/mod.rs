//! What the examples share: fresh topics on the broker.

use connector_kafka::rdkafka::ClientConfig;
use connector_kafka::rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use connector_kafka::rdkafka::client::DefaultClientContext;

/// The examples' error type.
pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Create `topics` with `partitions` partitions each.
pub async fn create_topics(bootstrap: &str, topics: &[&str], partitions: i32) -> Result<(), Failure> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", bootstrap).create()?;
    let new: Vec<NewTopic> = topics.iter().map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(1))).collect();
    for result in admin.create_topics(&new, &AdminOptions::new()).await? {
        result.map_err(|(topic, code)| format!("creating topic `{topic}`: {code}"))?;
    }
    Ok(())
}
