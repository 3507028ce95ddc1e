//! Side outputs of a process task: records a function emitted under a tag go to
//! the streams read with `side_output(&tag)`; barriers and ends reach them together
//! with the main output's.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;

use super::output::BoxOutput;
use crate::api::SideRecords;
use crate::error::{Result, StreamError};

/// One reader of one side output, with the type of its records erased.
#[async_trait]
pub(crate) trait SideOutput: Send {
    fn tag(&self) -> &str;
    /// Take one record; one of another type (two tags of one name) is refused.
    fn collect(&mut self, record: Box<dyn Any + Send>) -> Result<()>;
    /// A copy of `record` for a second reader of the same tag.
    fn copy(&self, record: &(dyn Any + Send)) -> Option<Box<dyn Any + Send>>;
    async fn flush(&mut self) -> Result<()>;
    async fn barrier(&mut self, id: u64) -> Result<()>;
    async fn end_of_data(&mut self) -> Result<()>;
    async fn end(&mut self) -> Result<()>;
}

pub(crate) struct TypedSide<S> {
    tag: Arc<str>,
    out: BoxOutput<S>,
    buffer: Vec<S>,
}

impl<S> TypedSide<S> {
    pub(crate) fn new(tag: Arc<str>, out: BoxOutput<S>) -> Self {
        TypedSide { tag, out, buffer: Vec::new() }
    }
}

#[async_trait]
impl<S: Clone + Send + 'static> SideOutput for TypedSide<S> {
    fn tag(&self) -> &str {
        &self.tag
    }

    fn collect(&mut self, record: Box<dyn Any + Send>) -> Result<()> {
        let record = record.downcast::<S>().map_err(|_| {
            StreamError::invalid(
                "OutputTag",
                &*self.tag,
                "two side outputs of one operator share this name with different record types; give each its \
                 own name",
            )
        })?;
        self.buffer.push(*record);
        Ok(())
    }

    fn copy(&self, record: &(dyn Any + Send)) -> Option<Box<dyn Any + Send>> {
        record.downcast_ref::<S>().map(|r| Box::new(r.clone()) as Box<dyn Any + Send>)
    }

    async fn flush(&mut self) -> Result<()> {
        if !self.buffer.is_empty() {
            self.out.collect_all(&mut self.buffer);
        }
        self.out.flush().await
    }

    async fn barrier(&mut self, id: u64) -> Result<()> {
        self.flush().await?;
        self.out.barrier(id).await
    }

    async fn end_of_data(&mut self) -> Result<()> {
        self.flush().await?;
        self.out.end_of_data().await
    }

    async fn end(&mut self) -> Result<()> {
        self.flush().await?;
        self.out.end().await
    }
}

/// Every side output reader of one subtask.
#[derive(Default)]
pub(crate) struct SideOutputs {
    sides: Vec<Box<dyn SideOutput>>,
}

impl SideOutputs {
    pub(crate) fn new(sides: Vec<Box<dyn SideOutput>>) -> Self {
        SideOutputs { sides }
    }

    /// Hand each record to every reader of its tag (dropped when there is none).
    pub(crate) fn route(&mut self, records: &mut SideRecords) -> Result<()> {
        for (tag, record) in records.drain(..) {
            let Some(last) = self.sides.iter().rposition(|side| side.tag() == &*tag) else { continue };
            for side in self.sides[..last].iter_mut().filter(|side| side.tag() == &*tag) {
                if let Some(copy) = side.copy(&*record) {
                    side.collect(copy)?;
                }
            }
            self.sides[last].collect(record)?;
        }
        Ok(())
    }

    pub(crate) async fn flush(&mut self) -> Result<()> {
        for side in &mut self.sides {
            side.flush().await?;
        }
        Ok(())
    }

    pub(crate) async fn barrier(&mut self, id: u64) -> Result<()> {
        for side in &mut self.sides {
            side.barrier(id).await?;
        }
        Ok(())
    }

    pub(crate) async fn end_of_data(&mut self) -> Result<()> {
        for side in &mut self.sides {
            side.end_of_data().await?;
        }
        Ok(())
    }

    pub(crate) async fn end(&mut self) -> Result<()> {
        for side in &mut self.sides {
            side.end().await?;
        }
        Ok(())
    }
}
