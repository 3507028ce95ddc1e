//! Delivery guarantees, with Flink's names.

use std::fmt;

/// What a sink promises about each record after failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryGuarantee {
    /// No guarantee (Flink's `NONE`): records may be lost or repeated.
    None,
    /// A record may be lost on failure; never delivered twice.
    AtMostOnce,
    /// Never lost; may be delivered more than once after a failure.
    AtLeastOnce,
    /// Every record affects the result exactly once, across any crash.
    ExactlyOnce,
}

impl fmt::Display for DeliveryGuarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeliveryGuarantee::None => "none",
            DeliveryGuarantee::AtMostOnce => "at-most-once",
            DeliveryGuarantee::AtLeastOnce => "at-least-once",
            DeliveryGuarantee::ExactlyOnce => "exactly-once",
        })
    }
}

impl DeliveryGuarantee {
    /// Whether this guarantee forbids losing records.
    pub fn no_loss(self) -> bool {
        matches!(self, DeliveryGuarantee::AtLeastOnce | DeliveryGuarantee::ExactlyOnce)
    }

    /// Whether this guarantee forbids duplicates.
    pub fn no_duplicates(self) -> bool {
        matches!(self, DeliveryGuarantee::AtMostOnce | DeliveryGuarantee::ExactlyOnce)
    }
}
