//! The little of the Docker engine API the tooling asks without a client library: is an
//! engine there, does it hold an image, does a container run. Plain HTTP/1.0 over the engine's unix
//! socket.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where Docker clients look for the engine: `DOCKER_HOST` when it is a `unix://`
/// path, else `/var/run/docker.sock`.
pub fn socket() -> PathBuf {
    match std::env::var("DOCKER_HOST") {
        Ok(host) => match host.strip_prefix("unix://") {
            Some(path) => PathBuf::from(path),
            None => PathBuf::from(host),
        },
        Err(_) => PathBuf::from("/var/run/docker.sock"),
    }
}

/// One GET of the engine API at `socket`: the status code and the body.
pub fn get(socket: &Path, path: &str) -> Result<(u16, String), String> {
    call(socket, "GET", path)
}

/// One bodiless `method` call of the engine API at `socket` (`POST
/// /containers/NAME/pause`): the status code and the body.
pub fn call(socket: &Path, method: &str, path: &str) -> Result<(u16, String), String> {
    let shown = socket.display();
    let mut stream = UnixStream::connect(socket).map_err(|e| format!("{shown}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    stream
        .write_all(format!("{method} {path} HTTP/1.0\r\nHost: docker\r\nContent-Length: 0\r\n\r\n").as_bytes())
        .map_err(|e| format!("{shown}: {e}"))?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| format!("{shown}: no answer to {method} {path}: {e}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split(' ').nth(1).and_then(|code| code.parse().ok()).ok_or_else(|| {
        format!("{shown}: not an HTTP answer to {method} {path}: {}", answer.lines().next().unwrap_or(""))
    })?;
    let body = answer.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// The engine at `socket` answers its ping.
pub fn ping(socket: &Path) -> Result<(), String> {
    match get(socket, "/_ping")? {
        (200, body) if body.trim() == "OK" => Ok(()),
        (status, body) => Err(format!("{}: ping answered {status} {body}", socket.display())),
    }
}

/// Whether the engine at `socket` holds image `name:tag`.
pub fn has_image(socket: &Path, image: &str) -> Result<bool, String> {
    match get(socket, &format!("/images/{image}/json"))? {
        (200, _) => Ok(true),
        (404, _) => Ok(false),
        (status, body) => Err(format!("{}: inspecting image {image} answered {status} {body}", socket.display())),
    }
}

/// Whether the engine at `socket` runs a container named `name` (`false` when it has
/// none by that name, or one that has stopped).
pub fn container_running(socket: &Path, name: &str) -> Result<bool, String> {
    match get(socket, &format!("/containers/{name}/json"))? {
        // The engine writes its JSON without spaces: `"State":{"Status":"running",...`.
        (200, body) => Ok(body.contains("\"Running\":true")),
        (404, _) => Ok(false),
        (status, body) => Err(format!("{}: inspecting container {name} answered {status} {body}", socket.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_engine_is_an_error_naming_the_socket() {
        let err = ping(Path::new("/nonexistent/docker.sock")).unwrap_err();
        assert!(err.contains("/nonexistent/docker.sock"), "{err}");
    }

    #[test]
    fn an_http_answer_is_read_over_a_unix_socket() {
        let dir = std::env::temp_dir().join(format!("test-servers-docker-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("engine.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            for answer in ["HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\n\r\nOK", "HTTP/1.0 404 Not Found\r\n\r\n{}"] {
                let (mut client, _) = listener.accept().unwrap();
                let mut request = [0u8; 256];
                let n = client.read(&mut request).unwrap();
                assert!(String::from_utf8_lossy(&request[..n]).starts_with("GET /"));
                client.write_all(answer.as_bytes()).unwrap();
            }
        });
        ping(&path).unwrap();
        assert!(!has_image(&path, "flink-connectors-rs/redis:7.0").unwrap());
        server.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
