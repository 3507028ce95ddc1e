//! Kafka framing for the proxy: requests are remembered by correlation id, and the
//! broker's port in Metadata and FindCoordinator replies becomes the proxy's, so that
//! a client never learns an address that bypasses the proxy. The port is a fixed
//! four bytes, so the reply keeps its length.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;
use tokio::net::tcp::ReadHalf;

pub(crate) use super::frame::Direction;
use super::frame::read_size;

/// `(api key, api version)` of the requests in flight on one connection, by
/// correlation id.
#[derive(Clone, Default)]
pub(crate) struct Calls(Arc<Mutex<HashMap<i32, (i16, i16)>>>);

const METADATA: i16 = 3;
const FIND_COORDINATOR: i16 = 10;
/// Kafka's own bound on a frame (`socket.request.max.bytes` default, 100 MiB).
const MAX_FRAME: usize = 100 * 1024 * 1024;

/// Read one size-prefixed frame (prefix included); remember a request's call, rewrite
/// a reply's broker ports.
pub(crate) async fn read_frame(
    from: &mut ReadHalf<'_>,
    direction: Direction,
    calls: &Calls,
    (broker_port, proxy_port): (u16, u16),
    rewritten: &AtomicU64,
) -> io::Result<Option<Vec<u8>>> {
    let Some(size) = read_size(from).await? else { return Ok(None) };
    let len = i32::from_be_bytes(size);
    let len = usize::try_from(len).ok().filter(|l| *l <= MAX_FRAME).ok_or_else(|| bad(format!("frame size {len}")))?;
    let mut frame = Vec::with_capacity(4 + len);
    frame.extend_from_slice(&size);
    frame.resize(4 + len, 0);
    from.read_exact(&mut frame[4..]).await?;
    match direction {
        Direction::ToServer => remember(calls, &frame[4..]),
        Direction::ToClient => {
            let call = correlation(&frame[4..]).and_then(|id| calls.0.lock().ok()?.remove(&id));
            if let Some((key, version)) = call {
                let n = rewrite_reply(&mut frame[4..], key, version, broker_port, proxy_port).unwrap_or(0);
                rewritten.fetch_add(n, Ordering::Relaxed);
            }
        }
    }
    Ok(Some(frame))
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("not a Kafka frame: {what}"))
}

fn correlation(body: &[u8]) -> Option<i32> {
    Some(i32::from_be_bytes(body.get(0..4)?.try_into().ok()?))
}

fn remember(calls: &Calls, body: &[u8]) {
    let (Some(key), Some(version), Some(id)) = (int16(body, 0), int16(body, 2), body.get(4..8)) else { return };
    if key == METADATA || key == FIND_COORDINATOR {
        let id = i32::from_be_bytes([id[0], id[1], id[2], id[3]]);
        if let Ok(mut calls) = calls.0.lock() {
            calls.insert(id, (key, version));
        }
    }
}

fn int16(body: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_be_bytes(body.get(at..at + 2)?.try_into().ok()?))
}

/// Rewrite `broker_port` to `proxy_port` in a reply body (correlation id first);
/// returns how many ports were rewritten, `None` for a reply it cannot parse.
pub(crate) fn rewrite_reply(body: &mut [u8], key: i16, version: i16, broker_port: u16, proxy_port: u16) -> Option<u64> {
    let flexible = match key {
        METADATA => version >= 9,
        FIND_COORDINATOR => version >= 3,
        _ => return Some(0),
    };
    let mut r = Reader { body, at: 4, flexible, rewritten: 0, from: broker_port, to: proxy_port };
    if flexible {
        r.tagged_fields()?;
    }
    match key {
        METADATA => {
            if version >= 3 {
                r.skip(4)?; // throttle_time_ms
            }
            for _ in 0..r.array_len()? {
                r.skip(4)?; // node_id
                r.string()?; // host
                r.port()?;
                if version >= 1 {
                    r.string()?; // rack
                }
                if flexible {
                    r.tagged_fields()?;
                }
            }
        }
        _ if version >= 4 => {
            r.skip(4)?; // throttle_time_ms
            for _ in 0..r.array_len()? {
                r.string()?; // key
                r.skip(4)?; // node_id
                r.string()?; // host
                r.port()?;
                r.skip(2)?; // error_code
                r.string()?; // error_message
                r.tagged_fields()?;
            }
        }
        _ => {
            if version >= 1 {
                r.skip(4)?; // throttle_time_ms
            }
            r.skip(2)?; // error_code
            if version >= 1 {
                r.string()?; // error_message
            }
            r.skip(4)?; // node_id
            r.string()?; // host
            r.port()?;
        }
    }
    Some(r.rewritten)
}

struct Reader<'a> {
    body: &'a mut [u8],
    at: usize,
    flexible: bool,
    rewritten: u64,
    from: u16,
    to: u16,
}

impl Reader<'_> {
    fn skip(&mut self, n: usize) -> Option<()> {
        (self.at + n <= self.body.len()).then(|| self.at += n)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.body.get(self.at)?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn int32(&mut self) -> Option<i32> {
        let v = i32::from_be_bytes(self.body.get(self.at..self.at + 4)?.try_into().ok()?);
        self.at += 4;
        Some(v)
    }

    fn array_len(&mut self) -> Option<usize> {
        if self.flexible {
            usize::try_from(self.varint()?.checked_sub(1)?).ok()
        } else {
            usize::try_from(self.int32()?).ok()
        }
    }

    /// A (nullable) string, compact or not.
    fn string(&mut self) -> Option<()> {
        let len = if self.flexible {
            self.varint()?.saturating_sub(1) as usize
        } else {
            let len = int16(self.body, self.at)?;
            self.at += 2;
            usize::try_from(len).unwrap_or(0)
        };
        self.skip(len)
    }

    fn tagged_fields(&mut self) -> Option<()> {
        for _ in 0..self.varint()? {
            self.varint()?;
            let size = usize::try_from(self.varint()?).ok()?;
            self.skip(size)?;
        }
        Some(())
    }

    fn port(&mut self) -> Option<()> {
        let at = self.at;
        if self.int32()? == i32::from(self.from) {
            self.body[at..at + 4].copy_from_slice(&i32::from(self.to).to_be_bytes());
            self.rewritten += 1;
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compact(s: &str) -> Vec<u8> {
        let mut out = vec![(s.len() + 1) as u8];
        out.extend_from_slice(s.as_bytes());
        out
    }

    fn classic(s: &str) -> Vec<u8> {
        let mut out = (s.len() as i16).to_be_bytes().to_vec();
        out.extend_from_slice(s.as_bytes());
        out
    }

    #[test]
    fn metadata_v1_and_v12_ports_become_the_proxys() {
        // v1: correlation, brokers [node 1 at 127.0.0.1:9092, rack null].
        let mut v1 = 7i32.to_be_bytes().to_vec();
        v1.extend(1i32.to_be_bytes());
        v1.extend(1i32.to_be_bytes());
        v1.extend(classic("127.0.0.1"));
        v1.extend(9092i32.to_be_bytes());
        v1.extend((-1i16).to_be_bytes());
        let port_at = v1.len() - 6;
        assert_eq!(rewrite_reply(&mut v1, METADATA, 1, 9092, 40000), Some(1));
        assert_eq!(&v1[port_at..port_at + 4], &40000i32.to_be_bytes());

        // v12: correlation, header tags, throttle, compact brokers [2 brokers], tags.
        let mut v12 = 7i32.to_be_bytes().to_vec();
        v12.push(0);
        v12.extend(0i32.to_be_bytes());
        v12.push(3);
        for (node, port) in [(1, 9092), (2, 9093)] {
            v12.extend(i32::to_be_bytes(node));
            v12.extend(compact("127.0.0.1"));
            v12.extend(i32::to_be_bytes(port));
            v12.extend(compact("rack-a"));
            v12.extend([1, 0, 2, 0xab, 0xcd]); // one tagged field of 2 bytes
        }
        assert_eq!(rewrite_reply(&mut v12, METADATA, 12, 9092, 40000), Some(1), "only the proxied broker's port");
        assert!(v12.windows(4).any(|w| w == 40000i32.to_be_bytes()));
        assert!(v12.windows(4).any(|w| w == 9093i32.to_be_bytes()));
        // Truncated: not parsed, nothing claimed.
        assert_eq!(rewrite_reply(&mut v12[..12], METADATA, 12, 9092, 40000), None);
    }

    #[test]
    fn find_coordinator_v0_v2_and_v4() {
        let mut v0 = 1i32.to_be_bytes().to_vec();
        v0.extend(0i16.to_be_bytes());
        v0.extend(1i32.to_be_bytes());
        v0.extend(classic("127.0.0.1"));
        v0.extend(9092i32.to_be_bytes());
        assert_eq!(rewrite_reply(&mut v0, FIND_COORDINATOR, 0, 9092, 41000), Some(1));
        assert!(v0.ends_with(&41000i32.to_be_bytes()));

        let mut v2 = 1i32.to_be_bytes().to_vec();
        v2.extend(0i32.to_be_bytes());
        v2.extend(0i16.to_be_bytes());
        v2.extend((-1i16).to_be_bytes());
        v2.extend(1i32.to_be_bytes());
        v2.extend(classic("127.0.0.1"));
        v2.extend(9092i32.to_be_bytes());
        assert_eq!(rewrite_reply(&mut v2, FIND_COORDINATOR, 2, 9092, 41000), Some(1));
        assert!(v2.ends_with(&41000i32.to_be_bytes()));

        let mut v4 = 1i32.to_be_bytes().to_vec();
        v4.push(0);
        v4.extend(0i32.to_be_bytes());
        v4.push(2);
        v4.extend(compact("txn-1"));
        v4.extend(1i32.to_be_bytes());
        v4.extend(compact("127.0.0.1"));
        v4.extend(9092i32.to_be_bytes());
        v4.extend(0i16.to_be_bytes());
        v4.push(0);
        v4.push(0);
        v4.push(0);
        assert_eq!(rewrite_reply(&mut v4, FIND_COORDINATOR, 4, 9092, 41000), Some(1));
    }
}
