//! Pulsar framing for the proxy, a test-server fidelity fix as well as a proxy mode:
//! - The broker's port in lookup answers (`CommandLookupTopicResponse`'s service URLs)
//!   becomes the proxy's, so that a client that looks a topic up through the proxy
//!   keeps every later connection on it.
//! - A message frame that carries no magic number and CRC32C checksum (optional in the
//!   protocol; pulsar-lite leaves them out, a real broker sends them, and the `pulsar`
//!   crate rejects a frame without them) gets them, computed over the metadata and
//!   payload as a broker does. A frame that has them passes unchanged.
//!
//! A frame: `[total size u32][command size u32][BaseCommand]`, then for a message
//! `[0x0e01 u16][CRC32C u32]` (optional) `[metadata size u32][metadata][payload]`.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncReadExt;
use tokio::net::tcp::ReadHalf;

use super::frame::{Direction, read_size};

/// The magic number before a payload's checksum.
const MAGIC: [u8; 2] = [0x0e, 0x01];
/// Well above the brokers' default maximum message size (5 MiB).
const MAX_FRAME: usize = 64 * 1024 * 1024;
/// `BaseCommand.lookupTopicResponse`.
const LOOKUP_RESPONSE: u64 = 24;
/// `CommandLookupTopicResponse.brokerServiceUrl` and `brokerServiceUrlTls`.
const SERVICE_URLS: [u64; 2] = [1, 2];

const CASTAGNOLI: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// Read one frame (size prefix included); a reply to the client gets its lookup URLs
/// and message checksum fixed (counted in `rewritten`).
pub(crate) async fn read_frame(
    from: &mut ReadHalf<'_>,
    direction: Direction,
    (broker_port, proxy_port): (u16, u16),
    rewritten: &AtomicU64,
) -> io::Result<Option<Vec<u8>>> {
    let Some(size) = read_size(from).await? else { return Ok(None) };
    let len = u32::from_be_bytes(size) as usize;
    if !(4..=MAX_FRAME).contains(&len) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("not a Pulsar frame: size {len}")));
    }
    let mut body = vec![0u8; len];
    from.read_exact(&mut body).await?;
    if direction == Direction::ToServer {
        return Ok(Some(framed(&body)));
    }
    match fix_reply(&body, broker_port, proxy_port) {
        Some(fixed) => {
            rewritten.fetch_add(1, Ordering::Relaxed);
            Ok(Some(framed(&fixed)))
        }
        None => Ok(Some(framed(&body))),
    }
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(body);
    frame
}

/// The frame body (after the total size) with the lookup URLs' port and the payload's
/// checksum fixed; `None` when there is nothing to fix (or it cannot be parsed).
pub(crate) fn fix_reply(body: &[u8], broker_port: u16, proxy_port: u16) -> Option<Vec<u8>> {
    let command_len = u32::from_be_bytes(body.get(0..4)?.try_into().ok()?) as usize;
    let command = body.get(4..4 + command_len)?;
    let payload = &body[4 + command_len..];
    let from = format!(":{broker_port}");
    let to = format!(":{proxy_port}");
    let new_command = rewrite_message(command, &|field, value| {
        (field == LOOKUP_RESPONSE).then(|| {
            rewrite_message(value, &|field, url| {
                let url = std::str::from_utf8(url).ok()?;
                (SERVICE_URLS.contains(&field) && url.ends_with(&from))
                    .then(|| format!("{}{to}", &url[..url.len() - from.len()]).into_bytes())
            })
        })?
    });
    let add_checksum = !payload.is_empty() && !payload.starts_with(&MAGIC);
    if new_command.is_none() && !add_checksum {
        return None;
    }
    let command = new_command.as_deref().unwrap_or(command);
    let mut fixed = Vec::with_capacity(body.len() + 6);
    fixed.extend_from_slice(&(command.len() as u32).to_be_bytes());
    fixed.extend_from_slice(command);
    if add_checksum {
        fixed.extend_from_slice(&MAGIC);
        fixed.extend_from_slice(&CASTAGNOLI.checksum(payload).to_be_bytes());
    }
    fixed.extend_from_slice(payload);
    Some(fixed)
}

/// New bytes for a length-delimited field (by field number and old bytes), or `None`
/// to keep it.
type Replace<'a> = dyn Fn(u64, &[u8]) -> Option<Vec<u8>> + 'a;

/// A protobuf message with each length-delimited field that `replace` gives new bytes
/// for (by field number and old bytes) replaced; `None` when none was, or the message
/// cannot be parsed.
fn rewrite_message(message: &[u8], replace: &Replace<'_>) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(message.len() + 8);
    let (mut at, mut changed) = (0, false);
    while at < message.len() {
        let start = at;
        let key = varint(message, &mut at)?;
        match key & 7 {
            0 => drop(varint(message, &mut at)?),
            1 => at += 8,
            5 => at += 4,
            2 => {
                let len = usize::try_from(varint(message, &mut at)?).ok()?;
                let value = message.get(at..at + len)?;
                if let Some(new) = replace(key >> 3, value) {
                    put_varint(key, &mut out);
                    put_varint(new.len() as u64, &mut out);
                    out.extend_from_slice(&new);
                    (at, changed) = (at + len, true);
                    continue;
                }
                at += len;
            }
            _ => return None,
        }
        out.extend_from_slice(message.get(start..at)?);
    }
    changed.then_some(out)
}

fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(number: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(number << 3 | 2, &mut out);
        put_varint(bytes.len() as u64, &mut out);
        out.extend_from_slice(bytes);
        out
    }

    fn body(command: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut body = (command.len() as u32).to_be_bytes().to_vec();
        body.extend_from_slice(command);
        body.extend_from_slice(payload);
        body
    }

    #[test]
    fn a_lookup_answer_names_the_proxy_and_keeps_its_other_fields() {
        let mut lookup = field(1, b"pulsar://127.0.0.1:6650");
        lookup.extend_from_slice(&[0x18, 0x01]); // response = Connect (varint field 3)
        let mut command = vec![0x08, 0x17]; // type = LOOKUP_RESPONSE (varint field 1)
        command.extend_from_slice(&field(24, &lookup));
        let fixed = fix_reply(&body(&command, &[]), 6650, 41234).unwrap_or_default();
        let mut expected_lookup = field(1, b"pulsar://127.0.0.1:41234");
        expected_lookup.extend_from_slice(&[0x18, 0x01]);
        let mut expected = vec![0x08, 0x17];
        expected.extend_from_slice(&field(24, &expected_lookup));
        assert_eq!(fixed, body(&expected, &[]));
        // Another port, another command: nothing to fix.
        assert_eq!(fix_reply(&body(&command, &[]), 6651, 41234), None);
        assert_eq!(fix_reply(&body(&[0x08, 0x02], &[]), 6650, 41234), None);
    }

    #[test]
    fn a_message_without_checksum_gets_magic_and_crc32c() {
        let command = [0x08, 0x09];
        let payload = [0, 0, 0, 2, 0xaa, 0xbb, b'h', b'i'];
        let fixed = fix_reply(&body(&command, &payload), 1, 2).unwrap_or_default();
        // CRC32C("123456789") = 0xE3069283: the parameters are Castagnoli's.
        assert_eq!(CASTAGNOLI.checksum(b"123456789"), 0xe306_9283);
        let mut expected = body(&command, &[]);
        expected.extend_from_slice(&MAGIC);
        expected.extend_from_slice(&CASTAGNOLI.checksum(&payload).to_be_bytes());
        expected.extend_from_slice(&payload);
        assert_eq!(fixed, expected);
        assert_eq!(fix_reply(&fixed, 1, 2), None, "a frame with a checksum passes unchanged");
    }
}
