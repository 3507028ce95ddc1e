//! [`crate::RabbitMqSink`]: publisher confirms awaited at every checkpoint.

mod writer;

pub use writer::RabbitMqWriter;
