//! A time series as the sink writes it: a metric name, labels (sorted by name, as
//! remote write requires) and samples in time order; checked when built, so that a
//! bad name fails at the record that carries it, not as a 400 for a whole batch.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::PrometheusError;

/// One label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Label {
    /// `[a-zA-Z_][a-zA-Z0-9_]*` (`__name__` holds the metric name).
    pub name: String,
    /// Any text but empty (an empty value is the same as no label).
    pub value: String,
}

/// One sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The value.
    pub value: f64,
}

/// A metric's series (its name and labels) and samples of it in time order. Build
/// with [`TimeSeries::builder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeSeries {
    // Shared: the async sink copies each batch it sends (to send it again).
    labels: Arc<[Label]>,
    samples: Vec<Sample>,
}

impl TimeSeries {
    /// A series of metric `name` (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    pub fn builder(name: impl Into<String>) -> TimeSeriesBuilder {
        TimeSeriesBuilder { name: name.into(), labels: Vec::with_capacity(4), samples: Vec::with_capacity(1) }
    }

    /// Its labels, `__name__` first, sorted by name.
    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    /// Its samples, in time order.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The same series with only `samples` (a part of this one's).
    pub(crate) fn with_samples(&self, samples: &[Sample]) -> TimeSeries {
        TimeSeries { labels: Arc::clone(&self.labels), samples: samples.to_vec() }
    }

    /// About how many bytes it takes in a request.
    pub(crate) fn encoded_size(&self) -> usize {
        self.labels.iter().map(|l| l.name.len() + l.value.len() + 6).sum::<usize>() + self.samples.len() * 20 + 4
    }
}

/// `metric{label="value",...}`.
impl std::fmt::Display for TimeSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.labels.iter().find(|l| l.name == "__name__").map(|l| l.value.as_str()).unwrap_or("");
        let others: Vec<String> =
            self.labels.iter().filter(|l| l.name != "__name__").map(|l| format!("{}={:?}", l.name, l.value)).collect();
        write!(f, "{name}{{{}}}", others.join(","))
    }
}

/// Builder of [`TimeSeries`].
#[derive(Debug, Clone)]
pub struct TimeSeriesBuilder {
    name: String,
    labels: Vec<Label>,
    samples: Vec<Sample>,
}

impl TimeSeriesBuilder {
    /// Add label `name="value"`.
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push(Label { name: name.into(), value: value.into() });
        self
    }

    /// Add a sample at `timestamp_ms` (milliseconds since the Unix epoch).
    pub fn sample(mut self, timestamp_ms: i64, value: f64) -> Self {
        self.samples.push(Sample { timestamp_ms, value });
        self
    }

    /// Check and build: the names follow Prometheus's rules, no label twice or empty,
    /// at least one sample, timestamps strictly increasing.
    pub fn build(self) -> Result<TimeSeries, PrometheusError> {
        // Formatted only for an error: build runs once per record.
        let (name, label_count, sample_count) = (&self.name, self.labels.len(), self.samples.len());
        let bad = |reason: String| PrometheusError::BadSeries {
            series: format!("{name}{{{label_count} labels, {sample_count} samples}}"),
            reason,
        };
        if !metric_name(&self.name) {
            return Err(bad(format!("metric name {:?} is not [a-zA-Z_:][a-zA-Z0-9_:]*", self.name)));
        }
        let mut labels = self.labels;
        for label in &labels {
            if !label_name(&label.name) || label.name.starts_with("__") {
                return Err(bad(format!(
                    "label name {:?} is not [a-zA-Z_][a-zA-Z0-9_]* or starts with __",
                    label.name
                )));
            }
            if label.value.is_empty() {
                return Err(bad(format!(
                    "label {} is empty (an empty value means no label: leave it out)",
                    label.name
                )));
            }
        }
        labels.sort();
        if let Some(pair) = labels.windows(2).find(|pair| pair[0].name == pair[1].name) {
            return Err(bad(format!("label {} is given twice", pair[0].name)));
        }
        if self.samples.is_empty() {
            return Err(bad("no sample".into()));
        }
        if let Some(pair) = self.samples.windows(2).find(|pair| pair[1].timestamp_ms <= pair[0].timestamp_ms) {
            return Err(bad(format!(
                "samples out of time order ({} after {}): a series' samples must be in time order",
                pair[1].timestamp_ms, pair[0].timestamp_ms
            )));
        }
        labels.insert(0, Label { name: "__name__".into(), value: self.name });
        Ok(TimeSeries { labels: labels.into(), samples: self.samples })
    }
}

fn metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_sorted_after_the_name_and_bad_ones_are_named() {
        let series = TimeSeries::builder("http_requests_total")
            .label("status", "200")
            .label("method", "GET")
            .sample(1, 1.0)
            .build()
            .unwrap();
        let names: Vec<&str> = series.labels().iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "method", "status"]);
        assert_eq!(series.to_string(), r#"http_requests_total{method="GET",status="200"}"#);
        let error = |b: TimeSeriesBuilder| b.build().unwrap_err().to_string();
        let ok = || TimeSeries::builder("m").sample(1, 1.0);
        assert!(error(TimeSeries::builder("9m").sample(1, 1.0)).contains("metric name \"9m\""));
        assert!(error(ok().label("a-b", "x")).contains("label name \"a-b\""));
        assert!(error(ok().label("__x", "x")).contains("__"));
        assert!(error(ok().label("a", "")).contains("empty"));
        assert!(error(ok().label("a", "1").label("a", "2")).contains("twice"));
        assert!(error(TimeSeries::builder("m")).contains("no sample"));
        assert!(error(ok().sample(1, 2.0)).contains("time order"));
    }
}
