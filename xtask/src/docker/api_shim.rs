//! The engine Debian 12 ships (docker.io 20.10) speaks Docker API 1.41 at most and
//! refuses a request for a newer version; testcontainers 0.27 (bollard 0.20) asks for
//! 1.52 on every request and never negotiates. This shim listens where clients look
//! (`/var/run/docker.sock`), passes every connection through to the engine, and
//! rewrites a request path's `/v1.NN/` with NN above 41 to `/v1.41/`: the same
//! length, so no header changes. What 1.41 lacks of 1.52 the tests do not use
//! (containers with host networking, logs, stop, start, remove).

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use crate::error::XtaskError;

/// The newest API version the engine takes.
const ENGINE_API: [u8; 2] = *b"41";

/// `/v1.` + two digits + `/`.
const PATTERN_LEN: usize = 7;

/// Rewrite every complete `/v1.NN/` in `buf` with NN above the engine's version.
fn rewrite(buf: &mut [u8]) {
    let mut i = 0;
    while i + PATTERN_LEN <= buf.len() {
        let candidate = &buf[i..i + PATTERN_LEN];
        let versioned = candidate.starts_with(b"/v1.")
            && candidate[4].is_ascii_digit()
            && candidate[5].is_ascii_digit()
            && candidate[6] == b'/';
        if versioned {
            if [candidate[4], candidate[5]] > ENGINE_API {
                buf[i + 4..i + 6].copy_from_slice(&ENGINE_API);
            }
            i += PATTERN_LEN;
        } else {
            i += 1;
        }
    }
}

/// How many bytes at the end of `buf` could begin a `/v1.NN/` that the next read
/// completes (held back until then; everything else is sent at once).
fn partial_at_end(buf: &[u8]) -> usize {
    (1..PATTERN_LEN.min(buf.len() + 1))
        .rev()
        .find(|&k| {
            buf[buf.len() - k..].iter().enumerate().all(|(i, b)| match i {
                0 => *b == b'/',
                1 => *b == b'v',
                2 => *b == b'1',
                3 => *b == b'.',
                _ => b.is_ascii_digit(),
            })
        })
        .unwrap_or(0)
}

/// Client to engine, rewriting; then half-close the engine side.
fn forward_requests(mut from: UnixStream, mut to: UnixStream) {
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&chunk[..n]);
        rewrite(&mut pending);
        let ready = pending.len() - partial_at_end(&pending);
        if to.write_all(&pending[..ready]).is_err() {
            return;
        }
        pending.drain(..ready);
    }
    let _ = to.write_all(&pending);
    let _ = to.shutdown(Shutdown::Write);
}

fn serve_one(client: UnixStream, engine: &Path) {
    let Ok(daemon) = UnixStream::connect(engine) else { return };
    let (Ok(client_in), Ok(daemon_out)) = (client.try_clone(), daemon.try_clone()) else { return };
    let requests = std::thread::spawn(move || forward_requests(client_in, daemon_out));
    let (mut daemon, mut client) = (daemon, client);
    let _ = std::io::copy(&mut daemon, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = requests.join();
}

/// Serve `listen`, passing every connection to the engine at `engine` (runs until
/// killed: `cargo xtask docker down` stops it by PID).
pub fn serve(listen: &Path, engine: &Path) -> Result<(), XtaskError> {
    match std::fs::remove_file(listen) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(XtaskError::io(listen, e)),
        _ => {}
    }
    let listener = UnixListener::bind(listen).map_err(|e| XtaskError::io(listen, e))?;
    for client in listener.incoming() {
        let Ok(client) = client else { continue };
        let engine = engine.to_path_buf();
        std::thread::spawn(move || serve_one(client, &engine));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(text: &str) -> String {
        let mut bytes = text.as_bytes().to_vec();
        rewrite(&mut bytes);
        String::from_utf8(bytes).unwrap_or_default()
    }

    #[test]
    fn newer_versions_become_the_engines_and_others_stay() {
        assert_eq!(rewritten("POST /v1.52/containers/create HTTP/1.1"), "POST /v1.41/containers/create HTTP/1.1");
        assert_eq!(rewritten("GET /v1.41/info HTTP/1.1"), "GET /v1.41/info HTTP/1.1");
        assert_eq!(rewritten("GET /v1.24/info HTTP/1.1"), "GET /v1.24/info HTTP/1.1");
        assert_eq!(rewritten("GET /_ping HTTP/1.1"), "GET /_ping HTTP/1.1");
        assert_eq!(rewritten("/v1.52//v1.50/"), "/v1.41//v1.41/");
    }

    #[test]
    fn only_a_possible_start_of_a_version_is_held_back() {
        assert_eq!(partial_at_end(b"GET /v1.5"), 5);
        assert_eq!(partial_at_end(b"GET /"), 1);
        assert_eq!(partial_at_end(b"\r\n\r\n"), 0);
        assert_eq!(partial_at_end(b"GET /v1.52/x"), 0);
        assert_eq!(partial_at_end(b""), 0);
    }

    #[test]
    fn a_request_split_across_reads_is_rewritten_and_answers_pass_back() {
        let dir = std::env::temp_dir().join(format!("xtask-api-shim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (engine_path, shim_path) = (dir.join("engine.sock"), dir.join("shim.sock"));
        let _ = std::fs::remove_file(&engine_path);
        let engine = UnixListener::bind(&engine_path).unwrap();
        let engine_thread = std::thread::spawn(move || {
            let (mut conn, _) = engine.accept().unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 64];
            while !seen.ends_with(b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                seen.extend_from_slice(&buf[..n]);
            }
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK").unwrap();
            String::from_utf8(seen).unwrap()
        });
        let (listen, upstream) = (shim_path.clone(), engine_path.clone());
        std::thread::spawn(move || serve(&listen, &upstream));
        let mut client = loop {
            match UnixStream::connect(&shim_path) {
                Ok(c) => break c,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        };
        for part in ["GET /v1", ".5", "2/version HT", "TP/1.1\r\n\r\n"] {
            client.write_all(part.as_bytes()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mut answer = [0u8; 64];
        let n = client.read(&mut answer).unwrap();
        assert!(String::from_utf8_lossy(&answer[..n]).ends_with("OK"));
        assert_eq!(engine_thread.join().unwrap(), "GET /v1.41/version HTTP/1.1\r\n\r\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
