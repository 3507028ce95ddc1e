//! DataGen: a deterministic, rate-limited generator source (exactly-once: each
//! reader's position is an index, kept in checkpoints).

use stream_core::Result;
use stream_core::api::{Boundedness, Source, TaskContext};
use stream_core::builtin::{CollectionEnumerator, CollectionReader, CollectionSource, CollectionSplit};

/// Emits `generator(i)` for `i` in `0..rows` (or without end), at most
/// `records_per_second` in total.
///
/// ```
/// use connector_base::DataGenSource;
/// let orders = DataGenSource::new(|i| format!("order-{i}")).rows(1_000).records_per_second(500.0).unwrap();
/// ```
pub struct DataGenSource<T> {
    generator: std::sync::Arc<dyn Fn(u64) -> T + Send + Sync>,
    rows: Option<u64>,
    rate: Option<f64>,
}

impl<T: Send + 'static> DataGenSource<T> {
    /// An unbounded source of `generator(0), generator(1), ...`.
    pub fn new(generator: impl Fn(u64) -> T + Send + Sync + 'static) -> Self {
        DataGenSource { generator: std::sync::Arc::new(generator), rows: None, rate: None }
    }

    /// Stop after `rows` records (a bounded source).
    pub fn rows(mut self, rows: u64) -> Self {
        self.rows = Some(rows);
        self
    }

    /// Emit at most `rate` records per second in total (> 0).
    pub fn records_per_second(mut self, rate: f64) -> Result<Self> {
        self.rate = Some(rate);
        // The collection source underneath validates the rate.
        self.inner()?;
        Ok(self)
    }

    fn inner(&self) -> Result<CollectionSource<T>> {
        let generator = self.generator.clone();
        let source = CollectionSource::from_fn(self.rows.unwrap_or(u64::MAX), move |i| generator(i));
        match self.rate {
            Some(rate) => source.records_per_second(rate),
            None => Ok(source),
        }
    }
}

impl<T: Send + Sync + 'static> Source for DataGenSource<T> {
    type Output = T;
    type Split = CollectionSplit;
    type EnumeratorState = Vec<CollectionSplit>;
    type Enumerator = CollectionEnumerator;
    type Reader = CollectionReader<T>;

    fn connector_name(&self) -> &'static str {
        "datagen"
    }

    fn boundedness(&self) -> Boundedness {
        if self.rows.is_some() { Boundedness::Bounded } else { Boundedness::ContinuousUnbounded }
    }

    async fn create_enumerator(
        &self,
        parallelism: usize,
        restored: Option<Vec<CollectionSplit>>,
    ) -> Result<CollectionEnumerator> {
        self.inner()?.create_enumerator(parallelism, restored).await
    }

    async fn create_reader(&self, ctx: &TaskContext) -> Result<CollectionReader<T>> {
        self.inner()?.create_reader(ctx).await
    }
}
