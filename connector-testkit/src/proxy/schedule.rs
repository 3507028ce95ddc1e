//! Faults played on a proxy over a bounded time, then healed.

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use tokio::time::Instant;

use super::FaultProxy;

/// A network fault played on a [`FaultProxy`] for a while.
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkFault {
    /// Cut every live connection at random intervals in `every`, each followed by
    /// refusing new connections for a random time in `refuse`.
    Cuts {
        /// Time between cuts.
        every: Range<Duration>,
        /// Refusal after each cut.
        refuse: Range<Duration>,
    },
    /// Delay every chunk by this, each way, all the time.
    Latency(Duration),
    /// At most this many bytes per second per connection and direction.
    Throttle(u64),
    /// Stall (forward nothing, cut nothing) for `stall` at random intervals in
    /// `every`.
    Stalls {
        /// Time between stalls (from the end of one to the start of the next).
        every: Range<Duration>,
        /// Length of each stall.
        stall: Duration,
    },
    /// At random intervals in `every`, every live connection goes silent for good
    /// (see [`FaultProxy::silence_live`]); new connections work. Only a client that
    /// bounds each call (and leaves a silent connection behind) rides through it.
    Silences {
        /// Time between silences.
        every: Range<Duration>,
    },
}

impl fmt::Display for NetworkFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkFault::Cuts { every, refuse } => write!(
                f,
                "a cut every {:?}-{:?} with {:?}-{:?} of refusal",
                every.start, every.end, refuse.start, refuse.end
            ),
            NetworkFault::Latency(latency) => write!(f, "{latency:?} of latency each way"),
            NetworkFault::Throttle(rate) => write!(f, "a throttle of {rate} bytes/s"),
            NetworkFault::Stalls { every, stall } => {
                write!(f, "a stall of {stall:?} every {:?}-{:?}", every.start, every.end)
            }
            NetworkFault::Silences { every } => {
                write!(f, "the live connections silenced for good every {:?}-{:?}", every.start, every.end)
            }
        }
    }
}

/// What a played fault did.
#[derive(Debug, Clone)]
pub struct FaultReport {
    /// The fault.
    pub fault: NetworkFault,
    /// Cuts, stalls or silences played (1 for a steady latency or throttle).
    pub events: u32,
    /// When the proxy was healed.
    pub healed_at: Instant,
}

fn pick(rng: &mut fastrand::Rng, range: &Range<Duration>) -> Duration {
    if range.end <= range.start {
        return range.start;
    }
    range.start + (range.end - range.start).mul_f64(rng.f64())
}

pub(super) async fn play(proxy: FaultProxy, fault: NetworkFault, duration: Duration, seed: u64) -> FaultReport {
    let mut rng = fastrand::Rng::with_seed(seed);
    let end = Instant::now() + duration;
    let mut events = 0;
    match &fault {
        NetworkFault::Cuts { every, refuse } => loop {
            let next = Instant::now() + pick(&mut rng, every);
            if next >= end {
                break;
            }
            tokio::time::sleep_until(next).await;
            proxy.cut_all();
            proxy.refuse_for(pick(&mut rng, refuse).min(end - Instant::now()));
            events += 1;
        },
        NetworkFault::Latency(latency) => {
            proxy.set_latency(*latency);
            events = 1;
        }
        NetworkFault::Throttle(rate) => {
            proxy.set_bandwidth(Some(*rate));
            events = 1;
        }
        NetworkFault::Stalls { every, stall } => loop {
            let start = Instant::now() + pick(&mut rng, every);
            if start >= end {
                break;
            }
            tokio::time::sleep_until(start).await;
            proxy.set_stalled(true);
            tokio::time::sleep((*stall).min(end - Instant::now())).await;
            proxy.set_stalled(false);
            events += 1;
        },
        NetworkFault::Silences { every } => loop {
            let next = Instant::now() + pick(&mut rng, every);
            if next >= end {
                break;
            }
            tokio::time::sleep_until(next).await;
            proxy.silence_live();
            events += 1;
        },
    }
    tokio::time::sleep_until(end).await;
    proxy.heal();
    FaultReport { fault, events, healed_at: Instant::now() }
}
