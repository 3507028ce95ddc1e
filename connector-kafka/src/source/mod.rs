//! The Kafka source (exactly-once): splits are topic-partitions, positions are
//! offsets in checkpoint state.

mod enumerator;
mod reader;
mod split;

pub use enumerator::{KafkaEnumerator, KafkaEnumeratorState};
pub use reader::KafkaReader;
pub use split::KafkaSplit;
