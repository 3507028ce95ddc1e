//! The input side of a task with one or more channels, and barrier handling:
//! in exactly-once mode a channel that delivered barrier n is blocked until every
//! channel has delivered it (alignment); in at-least-once mode nothing is blocked and
//! the checkpoint is taken when the last channel delivers its barrier.

use std::future::poll_fn;
use std::task::{Context, Poll};

use tokio::sync::mpsc;

use super::event::Event;
use crate::checkpoint_config::CheckpointingMode;

/// What a task sees next.
#[derive(Debug)]
pub(crate) enum GateEvent<T> {
    Records(Vec<T>),
    /// Every channel delivered barrier `id` (or ended): snapshot now.
    Checkpoint(u64),
    /// Every channel delivered its end of data: no record follows.
    EndOfData,
    /// Every channel ended.
    End,
    /// An upstream task went away without ending its stream (it failed).
    UpstreamLost,
}

pub(crate) struct InputGate<T> {
    channels: Vec<mpsc::Receiver<Event<T>>>,
    last_barrier: Vec<u64>,
    ended: Vec<bool>,
    end_of_data: Vec<bool>,
    end_of_data_emitted: bool,
    emitted: u64,
    max_seen: u64,
    aligned: bool,
    cursor: usize,
}

impl<T> InputGate<T> {
    pub(crate) fn new(channels: Vec<mpsc::Receiver<Event<T>>>, mode: CheckpointingMode) -> Self {
        let n = channels.len();
        InputGate {
            channels,
            last_barrier: vec![0; n],
            ended: vec![false; n],
            end_of_data: vec![false; n],
            end_of_data_emitted: false,
            emitted: 0,
            max_seen: 0,
            aligned: mode == CheckpointingMode::ExactlyOnce,
            cursor: 0,
        }
    }

    /// The next event. Cancel-safe: nothing is consumed unless it is returned.
    pub(crate) async fn next(&mut self) -> GateEvent<T> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// The smallest barrier id that every channel has passed (or ended before).
    fn completable(&self) -> Option<u64> {
        if self.max_seen <= self.emitted {
            return None;
        }
        let candidate = self
            .last_barrier
            .iter()
            .zip(&self.ended)
            .filter(|(id, ended)| **id > self.emitted && !**ended)
            .map(|(id, _)| *id)
            .min()
            .unwrap_or(self.max_seen);
        let done = self.last_barrier.iter().zip(&self.ended).all(|(id, ended)| *ended || *id >= candidate);
        done.then_some(candidate)
    }

    fn blocked(&self, channel: usize) -> bool {
        self.aligned && self.last_barrier[channel] > self.emitted
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<GateEvent<T>> {
        let n = self.channels.len();
        'scan: loop {
            if let Some(id) = self.completable() {
                self.emitted = id;
                return Poll::Ready(GateEvent::Checkpoint(id));
            }
            if !self.end_of_data_emitted && self.end_of_data.iter().zip(&self.ended).all(|(d, e)| *d || *e) {
                self.end_of_data_emitted = true;
                return Poll::Ready(GateEvent::EndOfData);
            }
            if self.ended.iter().all(|e| *e) {
                return Poll::Ready(GateEvent::End);
            }
            for k in 0..n {
                let i = (self.cursor + k) % n;
                if self.ended[i] || self.blocked(i) {
                    continue;
                }
                match self.channels[i].poll_recv(cx) {
                    Poll::Ready(Some(Event::Records(batch))) => {
                        self.cursor = (i + 1) % n;
                        return Poll::Ready(GateEvent::Records(batch));
                    }
                    Poll::Ready(Some(Event::Barrier(id))) => {
                        self.last_barrier[i] = id;
                        self.max_seen = self.max_seen.max(id);
                        continue 'scan;
                    }
                    Poll::Ready(Some(Event::EndOfData)) => {
                        self.end_of_data[i] = true;
                        continue 'scan;
                    }
                    Poll::Ready(Some(Event::End)) => {
                        self.ended[i] = true;
                        continue 'scan;
                    }
                    Poll::Ready(None) => return Poll::Ready(GateEvent::UpstreamLost),
                    Poll::Pending => {}
                }
            }
            return Poll::Pending;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(n: usize, mode: CheckpointingMode) -> (Vec<mpsc::Sender<Event<u32>>>, InputGate<u32>) {
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..n).map(|_| mpsc::channel(16)).unzip();
        (txs, InputGate::new(rxs, mode))
    }

    fn records(ev: GateEvent<u32>) -> Vec<u32> {
        match ev {
            GateEvent::Records(r) => r,
            other => panic!("expected records, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn exactly_once_blocks_a_channel_after_its_barrier() {
        let (txs, mut g) = gate(2, CheckpointingMode::ExactlyOnce);
        txs[0].send(Event::Barrier(1)).await.unwrap();
        txs[0].send(Event::Records(vec![10])).await.unwrap();
        txs[1].send(Event::Records(vec![1])).await.unwrap();
        // Channel 0 is blocked: its post-barrier record must not come before the checkpoint.
        assert_eq!(records(g.next().await), vec![1]);
        txs[1].send(Event::Barrier(1)).await.unwrap();
        assert!(matches!(g.next().await, GateEvent::Checkpoint(1)));
        assert_eq!(records(g.next().await), vec![10]);
    }

    #[tokio::test]
    async fn at_least_once_lets_records_overtake_the_barrier() {
        let (txs, mut g) = gate(2, CheckpointingMode::AtLeastOnce);
        txs[0].send(Event::Barrier(1)).await.unwrap();
        txs[0].send(Event::Records(vec![10])).await.unwrap();
        assert_eq!(records(g.next().await), vec![10]);
        txs[1].send(Event::Barrier(1)).await.unwrap();
        assert!(matches!(g.next().await, GateEvent::Checkpoint(1)));
    }

    #[tokio::test]
    async fn ended_channels_count_as_aligned_and_all_ended_is_end() {
        let (txs, mut g) = gate(2, CheckpointingMode::ExactlyOnce);
        txs[0].send(Event::End).await.unwrap();
        txs[1].send(Event::Barrier(3)).await.unwrap();
        assert!(matches!(g.next().await, GateEvent::Checkpoint(3)));
        txs[1].send(Event::EndOfData).await.unwrap();
        assert!(matches!(g.next().await, GateEvent::EndOfData), "once every channel has no more data");
        txs[1].send(Event::End).await.unwrap();
        assert!(matches!(g.next().await, GateEvent::End));
    }

    #[tokio::test]
    async fn a_vanished_upstream_is_reported() {
        let (mut txs, mut g) = gate(1, CheckpointingMode::ExactlyOnce);
        txs.clear();
        assert!(matches!(g.next().await, GateEvent::UpstreamLost));
    }
}
