//! Outputs for a stream used by several operators (each record and barrier goes to
//! every one of them) or by none (side outputs read, main output unused).

use async_trait::async_trait;

use super::output::{BoxOutput, Output};
use crate::error::Result;

/// Copies every batch to each of its outputs; barriers and ends go to all.
pub(crate) struct Broadcast<T> {
    outputs: Vec<BoxOutput<T>>,
    copy: Vec<T>,
}

impl<T: Clone + Send + 'static> Broadcast<T> {
    pub(crate) fn new(outputs: Vec<BoxOutput<T>>) -> Self {
        Broadcast { outputs, copy: Vec::new() }
    }
}

#[async_trait]
impl<T: Clone + Send + 'static> Output<T> for Broadcast<T> {
    fn collect_all(&mut self, records: &mut Vec<T>) {
        let Some((last, others)) = self.outputs.split_last_mut() else {
            records.clear();
            return;
        };
        for output in others {
            self.copy.extend_from_slice(records);
            output.collect_all(&mut self.copy);
        }
        last.collect_all(records);
    }

    async fn flush(&mut self) -> Result<()> {
        for output in &mut self.outputs {
            output.flush().await?;
        }
        Ok(())
    }

    async fn barrier(&mut self, id: u64) -> Result<()> {
        for output in &mut self.outputs {
            output.barrier(id).await?;
        }
        Ok(())
    }

    async fn end_of_data(&mut self) -> Result<()> {
        for output in &mut self.outputs {
            output.end_of_data().await?;
        }
        Ok(())
    }

    async fn end(&mut self) -> Result<()> {
        for output in &mut self.outputs {
            output.end().await?;
        }
        Ok(())
    }

    /// Records sent to the busiest output (each record counts once).
    fn take_count(&mut self) -> u64 {
        self.outputs.iter_mut().map(|o| o.take_count()).max().unwrap_or(0)
    }
}

/// Drops every record: the main output of an operator whose side outputs alone are used.
pub(crate) struct Discard;

#[async_trait]
impl<T: Send + 'static> Output<T> for Discard {
    fn collect_all(&mut self, records: &mut Vec<T>) {
        records.clear();
    }

    async fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    async fn barrier(&mut self, _id: u64) -> Result<()> {
        Ok(())
    }

    async fn end_of_data(&mut self) -> Result<()> {
        Ok(())
    }

    async fn end(&mut self) -> Result<()> {
        Ok(())
    }

    fn take_count(&mut self) -> u64 {
        0
    }
}
