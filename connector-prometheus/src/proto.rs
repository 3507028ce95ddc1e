//! The remote-write protocol 1.0 (`prometheus.WriteRequest`): the body of a request,
//! encoded field by field with prost's encoding functions (no `protoc`, no copy of
//! the series), snappy-compressed (the raw block format, not the framed one). The
//! tests decode it with prost-derived messages of the protocol.

use prost::encoding::{WireType, double, encode_key, encode_varint, encoded_len_varint, int64, string};

use crate::model::{Label, Sample, TimeSeries};

/// The body of a write of `series`: the request encoded straight from the series
/// (no copy into the prost messages: it runs for every sample written), then
/// snappy-compressed.
pub(crate) fn body<'a>(series: impl IntoIterator<Item = &'a TimeSeries>) -> Result<Vec<u8>, snap::Error> {
    let mut request = Vec::new();
    for one in series {
        message(1, series_len(one), &mut request);
        for label in one.labels() {
            message(1, label_len(label), &mut request);
            string::encode(1, &label.name, &mut request);
            string::encode(2, &label.value, &mut request);
        }
        for sample in one.samples() {
            message(2, sample_len(sample), &mut request);
            double::encode(1, &sample.value, &mut request);
            int64::encode(2, &sample.timestamp_ms, &mut request);
        }
    }
    snap::raw::Encoder::new().compress_vec(&request)
}

fn sample_len(sample: &Sample) -> usize {
    double::encoded_len(1, &sample.value) + int64::encoded_len(2, &sample.timestamp_ms)
}

/// The key and length of an embedded message of `len` bytes as field `tag`.
fn message(tag: u32, len: usize, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

fn label_len(label: &Label) -> usize {
    string::encoded_len(1, &label.name) + string::encoded_len(2, &label.value)
}

fn series_len(series: &TimeSeries) -> usize {
    let labels: usize = series.labels().iter().map(|l| embedded_len(label_len(l))).sum();
    let samples: usize = series.samples().iter().map(|s| embedded_len(sample_len(s))).sum();
    labels + samples
}

/// The bytes of an embedded message of `len` bytes with its key (one byte: tags 1, 2).
fn embedded_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[derive(Clone, PartialEq, prost::Message)]
    struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        timeseries: Vec<WireSeries>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct WireSeries {
        #[prost(message, repeated, tag = "1")]
        labels: Vec<WireLabel>,
        #[prost(message, repeated, tag = "2")]
        samples: Vec<WireSample>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct WireLabel {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(string, tag = "2")]
        value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct WireSample {
        #[prost(double, tag = "1")]
        value: f64,
        #[prost(int64, tag = "2")]
        timestamp: i64,
    }

    /// The protocol's messages as prost derives them, to decode what we encode.
    fn decoded(series: &[&TimeSeries]) -> WriteRequest {
        let raw = snap::raw::Decoder::new().decompress_vec(&body(series.iter().copied()).unwrap()).unwrap();
        WriteRequest::decode(raw.as_slice()).unwrap()
    }

    #[test]
    fn a_body_decodes_back_to_the_series() {
        let one = TimeSeries::builder("requests_total").label("job", "api").sample(1_000, 2.5).build().unwrap();
        let two = TimeSeries::builder("temperature")
            .label("room", "kitchen")
            .label("floor", "0")
            .sample(-5, 0.0)
            .sample(0, -1.5)
            .sample(i64::MAX, f64::MAX)
            .build()
            .unwrap();
        let request = decoded(&[&one, &two]);
        let expected = |s: &TimeSeries| WireSeries {
            labels: s.labels().iter().map(|l| WireLabel { name: l.name.clone(), value: l.value.clone() }).collect(),
            samples: s.samples().iter().map(|p| WireSample { value: p.value, timestamp: p.timestamp_ms }).collect(),
        };
        assert_eq!(request.timeseries, vec![expected(&one), expected(&two)]);
        assert_eq!(request.timeseries[1].labels[1].name, "floor");
        assert!(decoded(&[]).timeseries.is_empty());
    }
}
