//! Protocol-level "are you there" probes for the test servers, using only the
//! standard library. A probe succeeds only when the server answers its protocol, not
//! merely accepts a connection.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(2);

fn connect(address: &str) -> Result<TcpStream, String> {
    let addr = address
        .to_socket_addrs()
        .map_err(|e| format!("{address}: {e}"))?
        .next()
        .ok_or_else(|| format!("{address}: no address"))?;
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("{address}: {e}"))?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(|e| e.to_string())?;
    Ok(stream)
}

/// Probe `address` every 100 ms until `probe` answers, for at most `within`; the last
/// failure when it never does.
pub fn wait_until(probe: fn(&str) -> Result<(), String>, address: &str, within: Duration) -> Result<(), String> {
    let started = std::time::Instant::now();
    loop {
        match probe(address) {
            Ok(()) => return Ok(()),
            Err(e) if started.elapsed() >= within => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Redis answers `PING` with `+PONG`.
pub fn redis(address: &str) -> Result<(), String> {
    let mut s = connect(address)?;
    s.write_all(b"PING\r\n").map_err(|e| e.to_string())?;
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).map_err(|e| format!("{address}: no answer to PING: {e}"))?;
    if &buf == b"+PONG\r\n" { Ok(()) } else { Err(format!("{address}: unexpected answer {buf:?}")) }
}

/// An AMQP 0-9-1 broker answers the protocol header with `Connection.Start`.
pub fn amqp(address: &str) -> Result<(), String> {
    let mut s = connect(address)?;
    s.write_all(b"AMQP\x00\x00\x09\x01").map_err(|e| e.to_string())?;
    let mut buf = [0u8; 11];
    s.read_exact(&mut buf).map_err(|e| format!("{address}: no AMQP greeting: {e}"))?;
    // frame type 1 (method), channel 0, then size (4 bytes), class 10, method 10.
    let start = buf[0] == 1 && buf[1..3] == [0, 0] && buf[7..11] == [0, 10, 0, 10];
    if start { Ok(()) } else { Err(format!("{address}: not an AMQP 0-9-1 Connection.Start: {buf:?}")) }
}

/// A PostgreSQL server that takes sessions answers a plain `StartupMessage` (user and
/// database `postgres`) with an authentication request (`R`); one still starting up
/// (or shutting down) answers with an error (`E`, SQLSTATE 57P03), which an
/// `SSLRequest` alone does not tell apart.
pub fn postgres(address: &str) -> Result<(), String> {
    let mut s = connect(address)?;
    let parameters = b"user\0postgres\0database\0postgres\0\0";
    let length = (8 + parameters.len()) as u32;
    let startup = [&length.to_be_bytes()[..], &196_608u32.to_be_bytes(), parameters].concat();
    s.write_all(&startup).map_err(|e| e.to_string())?;
    let mut kind = [0u8; 1];
    s.read_exact(&mut kind).map_err(|e| format!("{address}: no answer to a StartupMessage: {e}"))?;
    match &kind {
        b"R" => Ok(()),
        b"E" => {
            let mut rest = vec![0u8; 512];
            let n = s.read(&mut rest).unwrap_or(0);
            let text: String = String::from_utf8_lossy(&rest[..n]).chars().filter(|c| !c.is_control()).collect();
            Err(format!("{address}: PostgreSQL does not take sessions yet: {text}"))
        }
        other => Err(format!("{address}: not PostgreSQL: {other:?}")),
    }
}

/// A CQL native-protocol server (Cassandra, Scylla, kassandra): OPTIONS in protocol
/// v4 must be answered by SUPPORTED.
pub fn cassandra(address: &str) -> Result<(), String> {
    let mut s = connect(address)?;
    // version 4 request, no flags, stream 0, opcode OPTIONS (5), empty body.
    s.write_all(&[0x04, 0, 0, 0, 0x05, 0, 0, 0, 0]).map_err(|e| e.to_string())?;
    let mut header = [0u8; 9];
    s.read_exact(&mut header).map_err(|e| format!("{address}: no CQL answer: {e}"))?;
    // version 4 response (0x84), opcode SUPPORTED (6).
    if header[0] == 0x84 && header[4] == 0x06 {
        Ok(())
    } else {
        Err(format!("{address}: not a CQL v4 SUPPORTED answer: {header:?}"))
    }
}

/// A MongoDB server (mongod, mongoeco) answers an OP_MSG `{hello: 1, $db: "admin"}`
/// with an OP_MSG reply (opcode 2013) whose document holds `ok: 1.0`.
pub fn mongodb(address: &str) -> Result<(), String> {
    let mut s = connect(address)?;
    // BSON {hello: int32 1, $db: "admin"}.
    let mut document = Vec::new();
    document.extend_from_slice(b"\x10hello\0");
    document.extend_from_slice(&1i32.to_le_bytes());
    document.extend_from_slice(b"\x02$db\0");
    document.extend_from_slice(&6i32.to_le_bytes());
    document.extend_from_slice(b"admin\0");
    document.push(0);
    let mut bson = ((document.len() + 4) as i32).to_le_bytes().to_vec();
    bson.extend_from_slice(&document);
    // Header: length, request id, response to, opcode OP_MSG (2013); flags; section kind 0.
    let length = 16 + 4 + 1 + bson.len();
    let mut message = Vec::with_capacity(length);
    for field in [length as i32, 4242, 0, 2013, 0] {
        message.extend_from_slice(&field.to_le_bytes());
    }
    message.push(0);
    message.extend_from_slice(&bson);
    s.write_all(&message).map_err(|e| e.to_string())?;
    let mut header = [0u8; 16];
    s.read_exact(&mut header).map_err(|e| format!("{address}: no MongoDB answer: {e}"))?;
    let length = i32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let response_to = i32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    let opcode = i32::from_le_bytes([header[12], header[13], header[14], header[15]]);
    if response_to != 4242 || opcode != 2013 || !(21..16 * 1024 * 1024).contains(&length) {
        return Err(format!("{address}: not an OP_MSG answer to hello: {header:?}"));
    }
    let mut body = vec![0u8; length as usize - 16];
    s.read_exact(&mut body).map_err(|e| format!("{address}: short MongoDB answer: {e}"))?;
    // `ok` as a double 1.0: type 0x01, name, then the little-endian bytes of 1.0.
    let mut ok = b"\x01ok\0".to_vec();
    ok.extend_from_slice(&1.0f64.to_le_bytes());
    if body.windows(ok.len()).any(|w| w == ok.as_slice()) {
        Ok(())
    } else {
        Err(format!("{address}: hello was not answered with ok: 1"))
    }
}

/// A Kafka broker answers `ApiVersions` (v0) with our correlation id and no error.
pub fn kafka(address: &str) -> Result<(), String> {
    let mut s = connect(address)?;
    let client = b"probe";
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes()); // ApiVersions
    body.extend_from_slice(&0i16.to_be_bytes()); // version 0
    body.extend_from_slice(&4242i32.to_be_bytes()); // correlation id
    body.extend_from_slice(&(client.len() as i16).to_be_bytes());
    body.extend_from_slice(client);
    let mut request = (body.len() as i32).to_be_bytes().to_vec();
    request.extend_from_slice(&body);
    s.write_all(&request).map_err(|e| e.to_string())?;
    let mut head = [0u8; 10];
    s.read_exact(&mut head).map_err(|e| format!("{address}: no ApiVersions answer: {e}"))?;
    let correlation = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let error = i16::from_be_bytes([head[8], head[9]]);
    if correlation == 4242 && error == 0 {
        Ok(())
    } else {
        Err(format!("{address}: ApiVersions answered correlation {correlation}, error {error}"))
    }
}

/// One HTTP/1.1 request without authentication (test servers only); the whole answer.
fn http(address: &str, method: &str, path: &str, body: &str) -> Result<String, String> {
    let mut s = connect(address)?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).map_err(|e| format!("{address}: no HTTP answer to {method} {path}: {e}"))?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

fn first_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

/// A search cluster answers `GET /` with its version: Elasticsearch, or OpenSearch
/// when `opensearch` (its root names its distribution).
fn search(address: &str, opensearch: bool) -> Result<(), String> {
    let root = http(address, "GET", "/", "")?;
    let system = if opensearch { "OpenSearch" } else { "Elasticsearch" };
    if !(root.starts_with("HTTP/1.1 200") && root.contains("\"number\"")) {
        return Err(format!("{address}: not an {system} root: {}", first_line(&root)));
    }
    if root.contains("\"opensearch\"") != opensearch {
        return Err(format!("{address}: answers, but is not {system}"));
    }
    Ok(())
}

/// One HTTP/1.1 request, its answer read as far as its `content-length` says: for
/// servers that keep the connection open after answering, `Connection: close`
/// notwithstanding (the Pub/Sub emulator).
fn http_by_length(address: &str, method: &str, path: &str) -> Result<String, String> {
    let mut s = connect(address)?;
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\n\r\n");
    s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if answer.len() >= end + 4 + length {
                return Ok(text);
            }
        }
        let n = s.read(&mut chunk).map_err(|e| format!("{address}: no HTTP answer to {method} {path}: {e}"))?;
        if n == 0 {
            return Ok(String::from_utf8_lossy(&answer).into_owned());
        }
        answer.extend_from_slice(&chunk[..n]);
    }
}

/// The Pub/Sub emulator answers `GET /` with `Ok` and creates a topic over its REST
/// API (an existing one is a 409).
pub fn pubsub(address: &str) -> Result<(), String> {
    let root = http_by_length(address, "GET", "/")?;
    if !(root.starts_with("HTTP/1.1 200") && root.trim_end().ends_with("Ok")) {
        return Err(format!("{address}: not the Pub/Sub emulator: {}", first_line(&root)));
    }
    let topic = http_by_length(address, "PUT", "/v1/projects/flink-connectors-rs/topics/probe-topic")?;
    if topic.starts_with("HTTP/1.1 200") || topic.starts_with("HTTP/1.1 409") {
        Ok(())
    } else {
        Err(format!("{address}: the Pub/Sub emulator did not create a topic: {}", first_line(&topic)))
    }
}

/// An Elasticsearch cluster answers `GET /` with its version.
pub fn elasticsearch(address: &str) -> Result<(), String> {
    search(address, false)
}

/// An OpenSearch cluster answers `GET /` with its version and distribution.
pub fn opensearch(address: &str) -> Result<(), String> {
    search(address, true)
}

/// A Pulsar broker answers `CONNECT` with `CONNECTED` (frame: total size, command
/// size, `BaseCommand`; type 2 is CONNECT, 3 CONNECTED).
pub fn pulsar(address: &str) -> Result<(), String> {
    let mut s = connect(address)?;
    // CommandConnect { client_version = "probe" (1), protocol_version = 6 (4) }
    let connect_command = [&[0x0a, 5][..], b"probe", &[0x20, 6]].concat();
    let base = [&[0x08, 2, 0x12, connect_command.len() as u8][..], &connect_command].concat();
    let frame = [&((base.len() + 4) as u32).to_be_bytes()[..], &(base.len() as u32).to_be_bytes(), &base].concat();
    s.write_all(&frame).map_err(|e| e.to_string())?;
    let mut head = [0u8; 10];
    s.read_exact(&mut head).map_err(|e| format!("{address}: no answer to CONNECT: {e}"))?;
    if head[8..10] == [0x08, 3] { Ok(()) } else { Err(format!("{address}: not a Pulsar CONNECTED: {head:?}")) }
}

/// A Prometheus server answers `GET /-/ready` with 200 once it takes writes and
/// queries.
pub fn prometheus(address: &str) -> Result<(), String> {
    let answer = http(address, "GET", "/-/ready", "")?;
    if answer.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!("{address}: Prometheus is not ready: {}", first_line(&answer)))
    }
}

/// An S3 endpoint answers `GET /` with a bucket listing and completes a multipart
/// upload (what the file sink needs; it also warms a fresh moto up before tests run).
pub fn s3(address: &str) -> Result<(), String> {
    let listing = http(address, "GET", "/", "")?;
    if !(listing.starts_with("HTTP/1.1 200") && listing.contains("ListAllMyBucketsResult")) {
        return Err(format!("{address}: not an S3 bucket listing: {}", first_line(&listing)));
    }
    s3_create_bucket(address, "flink-connectors-rs-probe")?;
    let key = "/flink-connectors-rs-probe/probe.txt";
    let started = http(address, "POST", &format!("{key}?uploads"), "")?;
    let upload = between(&started, "<UploadId>", "</UploadId>")
        .ok_or_else(|| format!("{address}: multipart upload not started: {}", first_line(&started)))?;
    let part = http(address, "PUT", &format!("{key}?partNumber=1&uploadId={upload}"), "probe")?;
    let etag = part
        .lines()
        .find_map(|l| l.strip_prefix("ETag: ").or_else(|| l.strip_prefix("etag: ")))
        .ok_or_else(|| format!("{address}: part not uploaded: {}", first_line(&part)))?;
    let complete = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{}</ETag></Part></CompleteMultipartUpload>",
        etag.trim()
    );
    let done = http(address, "POST", &format!("{key}?uploadId={upload}"), &complete)?;
    if done.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!("{address}: multipart upload not completed: {}", first_line(&done)))
    }
}

/// A DynamoDB endpoint answers an unsigned `ListTables` with DynamoDB's own error
/// (DynamoDB Local needs a signature; the SDK signs with any test credentials).
pub fn dynamodb(address: &str) -> Result<(), String> {
    aws_json(address, "DynamoDB", "DynamoDB_20120810.ListTables", "1.0", "TableNames")
}

/// A Kinesis endpoint answers an unsigned `ListStreams` with Kinesis's own error.
pub fn kinesis(address: &str) -> Result<(), String> {
    aws_json(address, "Kinesis", "Kinesis_20131202.ListStreams", "1.1", "StreamNames")
}

/// An AWS JSON-protocol service answers an unsigned call of `target` with its
/// authentication error (or, without authentication, with a body naming `answer`).
fn aws_json(address: &str, system: &str, target: &str, version: &str, answer: &str) -> Result<(), String> {
    let mut s = connect(address)?;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nX-Amz-Target: {target}\r\n\
         Content-Type: application/x-amz-json-{version}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).map_err(|e| format!("{address}: no HTTP answer to {target}: {e}"))?;
    let reply = String::from_utf8_lossy(&reply);
    if reply.contains("MissingAuthenticationToken") || reply.contains(answer) {
        Ok(())
    } else {
        Err(format!("{address}: not a {system} endpoint: {}", first_line(&reply)))
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}

/// Create `bucket` on an S3 test endpoint (`http://host:port` or `host:port`; moto
/// accepts unsigned requests), for tests that need a bucket of their own. An existing
/// bucket of ours is fine.
pub fn s3_create_bucket(endpoint: &str, bucket: &str) -> Result<(), String> {
    let address = host_port(endpoint);
    let answer = http(&address, "PUT", &format!("/{bucket}"), "")?;
    if answer.starts_with("HTTP/1.1 200") || answer.contains("BucketAlreadyOwnedByYou") {
        Ok(())
    } else {
        Err(format!("{address}: creating bucket {bucket} failed: {}", first_line(&answer)))
    }
}

/// Host and port of an endpoint URL (`redis://host:port`, `amqp://u:p@host:port/vh`)
/// or a plain `host:port` list (the first entry).
pub fn host_port(endpoint: &str) -> String {
    let rest = endpoint.split_once("://").map(|(_, r)| r).unwrap_or(endpoint);
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    let rest = rest.split(['/', ',']).next().unwrap_or(rest);
    rest.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_reduce_to_host_and_port() {
        assert_eq!(host_port("redis://127.0.0.1:6379"), "127.0.0.1:6379");
        assert_eq!(host_port("amqp://guest:guest@127.0.0.1:5672/%2f"), "127.0.0.1:5672");
        assert_eq!(host_port("127.0.0.1:9092,127.0.0.1:9093"), "127.0.0.1:9092");
    }

    #[test]
    fn waiting_ends_with_the_last_failure_after_the_window() {
        let started = std::time::Instant::now();
        let err = wait_until(redis, "127.0.0.1:9", Duration::from_millis(300)).unwrap_err();
        assert!(err.contains("127.0.0.1:9") && started.elapsed() >= Duration::from_millis(300), "{err}");
    }

    #[test]
    fn a_closed_port_fails_with_the_address() {
        let err = redis("127.0.0.1:9").unwrap_err();
        assert!(err.contains("127.0.0.1:9"), "{err}");
    }
}
