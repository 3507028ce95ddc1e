//! The remote-write protocol 1.0 (`prometheus.WriteRequest`), as prost messages
//! written by hand (no `protoc`), and its body: the message, snappy-compressed (the
//! raw block format, not the framed one).

use crate::model::TimeSeries;

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub(crate) timeseries: Vec<WireSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WireSeries {
    #[prost(message, repeated, tag = "1")]
    pub(crate) labels: Vec<WireLabel>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) samples: Vec<WireSample>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WireLabel {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(string, tag = "2")]
    pub(crate) value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WireSample {
    #[prost(double, tag = "1")]
    pub(crate) value: f64,
    #[prost(int64, tag = "2")]
    pub(crate) timestamp: i64,
}

/// The body of a write of `series`: the encoded request, snappy-compressed.
pub(crate) fn body<'a>(series: impl IntoIterator<Item = &'a TimeSeries>) -> Result<Vec<u8>, snap::Error> {
    use prost::Message;
    let request = WriteRequest {
        timeseries: series
            .into_iter()
            .map(|s| WireSeries {
                labels: s.labels().iter().map(|l| WireLabel { name: l.name.clone(), value: l.value.clone() }).collect(),
                samples: s.samples().iter().map(|p| WireSample { value: p.value, timestamp: p.timestamp_ms }).collect(),
            })
            .collect(),
    };
    snap::raw::Encoder::new().compress_vec(&request.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn a_body_decodes_back_to_the_series() {
        let series = TimeSeries::builder("requests_total").label("job", "api").sample(1_000, 2.5).build().unwrap();
        let body = body([&series]).unwrap();
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let request = WriteRequest::decode(raw.as_slice()).unwrap();
        assert_eq!(request.timeseries.len(), 1);
        let names: Vec<&str> = request.timeseries[0].labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "job"]);
        assert_eq!(request.timeseries[0].samples, vec![WireSample { value: 2.5, timestamp: 1_000 }]);
    }
}
