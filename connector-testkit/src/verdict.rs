//! Multiset comparison of what was sent with what arrived, and the check of a
//! declared guarantee against it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use connector_base::DeliveryGuarantee;

/// Counts of a guarantee run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Records sent.
    pub sent: usize,
    /// Records that arrived (with repeats).
    pub received: usize,
    /// Sent records that never arrived.
    pub lost: usize,
    /// Extra arrivals of records that arrived more than once.
    pub duplicated: usize,
    /// Arrivals of records that were never sent.
    pub unexpected: usize,
    /// Crashes that happened during the run.
    pub crashes: usize,
    /// Restarts of the job (planted crashes and failures alike).
    pub restarts: u32,
    /// With network faults: how long after the proxy healed the job ended (or, for an
    /// unbounded source, the last record arrived).
    pub after_faults: Option<Duration>,
    /// With network faults: checkpoints the job completed while they played.
    pub checkpoints_during_faults: Option<u64>,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent={} received={} lost={} duplicated={} unexpected={} crashes={}",
            self.sent, self.received, self.lost, self.duplicated, self.unexpected, self.crashes
        )?;
        if self.restarts > 0 {
            write!(f, " restarts={}", self.restarts)?;
        }
        if let Some(checkpoints) = self.checkpoints_during_faults {
            write!(f, " checkpoints_during_faults={checkpoints}")?;
        }
        match self.after_faults {
            Some(after) => write!(f, " ended {:.1} s after the faults", after.as_secs_f64()),
            None => Ok(()),
        }
    }
}

impl Verdict {
    /// Compare `sent` and `received` as multisets of record ids.
    pub fn compare(sent: &[u64], received: &[u64], crashes: usize) -> Verdict {
        let mut expected: BTreeMap<u64, usize> = BTreeMap::new();
        for id in sent {
            *expected.entry(*id).or_default() += 1;
        }
        let mut arrived: BTreeMap<u64, usize> = BTreeMap::new();
        for id in received {
            *arrived.entry(*id).or_default() += 1;
        }
        let (mut lost, mut duplicated, mut unexpected) = (0, 0, 0);
        for (id, want) in &expected {
            let got = arrived.get(id).copied().unwrap_or(0);
            lost += want.saturating_sub(got);
            duplicated += got.saturating_sub(*want);
        }
        for (id, got) in &arrived {
            if !expected.contains_key(id) {
                unexpected += got;
            }
        }
        Verdict {
            sent: sent.len(),
            received: received.len(),
            lost,
            duplicated,
            unexpected,
            crashes,
            restarts: 0,
            after_faults: None,
            checkpoints_during_faults: None,
        }
    }

    /// `Ok` when the counts satisfy `guarantee`; otherwise what was violated.
    pub fn check(&self, guarantee: DeliveryGuarantee) -> Result<(), String> {
        let mut broken = Vec::new();
        if self.unexpected > 0 {
            broken.push(format!("{} records arrived that were never sent", self.unexpected));
        }
        if guarantee.no_loss() && self.lost > 0 {
            broken.push(format!("{} records lost", self.lost));
        }
        if guarantee.no_duplicates() && self.duplicated > 0 {
            broken.push(format!("{} records duplicated", self.duplicated));
        }
        if broken.is_empty() { Ok(()) } else { Err(format!("{guarantee} violated: {} ({self})", broken.join(", "))) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_losses_duplicates_and_strangers() {
        let v = Verdict::compare(&[1, 2, 3, 4], &[1, 1, 2, 4, 9], 2);
        assert_eq!((v.lost, v.duplicated, v.unexpected), (1, 1, 1));
        assert!(v.check(DeliveryGuarantee::None).is_err(), "strangers are never fine");
        let v = Verdict::compare(&[1, 2, 3], &[1, 2, 2, 3], 1);
        assert!(v.check(DeliveryGuarantee::AtLeastOnce).is_ok());
        assert!(v.check(DeliveryGuarantee::ExactlyOnce).unwrap_err().contains("1 records duplicated"));
        let v = Verdict::compare(&[1, 2, 3], &[1, 3], 1);
        assert!(v.check(DeliveryGuarantee::AtMostOnce).is_ok());
        assert!(v.check(DeliveryGuarantee::AtLeastOnce).unwrap_err().contains("1 records lost"));
    }
}
