//! Built-in sources and sinks.
//!
//! | connector | guarantee |
//! |---|---|
//! | [`CollectionSource`] (also sequences) | exactly-once |
//! | [`SocketTextSource`] | at-most-once |
//! | [`PrintSink`] | at-least-once |
//! | [`SocketSink`] | at-least-once |
//! | [`CollectSink`] (in-memory, two-phase) | exactly-once |
//! | [`DiscardingSink`] | - |

mod collect_sink;
mod collection;
mod discard;
mod fixed_splits;
mod print;
mod socket_sink;
mod socket_source;

pub use collect_sink::{CollectBatch, CollectCommitter, CollectSink, CollectWriter};
pub use collection::{CollectionEnumerator, CollectionReader, CollectionSource, CollectionSplit};
pub use discard::{DiscardingSink, DiscardingWriter};
pub use fixed_splits::FixedSplitEnumerator;
pub use print::{PrintSink, PrintWriter};
pub use socket_sink::{SocketSink, SocketWriter};
pub use socket_source::{SocketEnumerator, SocketReader, SocketSplit, SocketTextSource};
