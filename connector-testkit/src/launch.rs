//! How a test server is started: as a host process (a private server next to the one
//! `cargo xtask services` runs) or in a container (the local image `cargo xtask
//! images` builds, or the system's official image), on ports the testkit chose.

/// Where a server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A process on this machine, with the binaries `cargo xtask services` installs.
    Host,
    /// A container of the image `cargo xtask images` builds.
    LocalImage,
    /// A container of the system's official image (machines that reach a registry).
    OfficialImage,
}

/// A server's command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Launch {
    /// The program.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment variables it needs.
    pub env: Vec<(String, String)>,
    /// Host processes: a file in the data directory holding the PID to stop, when the
    /// program is a wrapper that does not pass signals on.
    pub pid_file: Option<String>,
    /// Host processes: a command run after the server stopped, for a helper process
    /// the server left running (RabbitMQ's epmd). A container takes its helpers with it.
    pub cleanup: Option<Vec<String>>,
}

impl Launch {
    /// `program args...`.
    pub fn new(program: &str, args: &[&str]) -> Self {
        Launch { program: program.into(), args: args.iter().map(|a| a.to_string()).collect(), ..Launch::default() }
    }

    /// With environment variable `key=value`.
    pub fn env(mut self, key: &str, value: impl ToString) -> Self {
        self.env.push((key.into(), value.to_string()));
        self
    }

    /// With these arguments after the others.
    pub fn more_args(mut self, extra: &[String]) -> Self {
        self.args.extend_from_slice(extra);
        self
    }

    /// The command as a container runs it: `env K=V ... program args...`.
    pub(crate) fn argv(&self) -> Vec<String> {
        let mut argv = Vec::new();
        if !self.env.is_empty() {
            argv.push("env".to_string());
            argv.extend(self.env.iter().map(|(k, v)| format!("{k}={v}")));
        }
        argv.push(self.program.clone());
        argv.extend(self.args.iter().cloned());
        argv
    }
}

/// The shell script every container runs (`sh -c SCRIPT serve-while PID CMD...`): it
/// starts the server, and stops it (SIGTERM, then SIGKILL after 15 s) when the host
/// process PID ends (the container shares the host's PID namespace) or when the
/// container is stopped. A shared container so ends with the test run that started
/// it and is removed by the engine; it needs nothing of the image but `sh`. A server
/// without a directory of the host keeps its data in `/data`.
pub(crate) const SERVE_WHILE: &str = r#"watch=$1; shift
mkdir -p /data 2>/dev/null
"$@" &
server=$!
stop() {
  kill -TERM "$server" 2>/dev/null
  i=0
  while kill -0 "$server" 2>/dev/null && [ "$i" -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "$server" 2>/dev/null
  exit 0
}
trap stop TERM INT
while kill -0 "$watch" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 1 & wait $!; done
stop
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_runs_the_environment_then_the_program() {
        let launch = Launch::new("redis-server", &["--port", "1"]).env("A", 2).more_args(&["--x".into()]);
        assert_eq!(launch.argv(), ["env", "A=2", "redis-server", "--port", "1", "--x"]);
        assert_eq!(Launch::new("true", &[]).argv(), ["true"]);
    }

    #[test]
    fn serve_while_stops_the_server_when_the_watched_process_ends() {
        use std::process::Command;
        use std::time::{Duration, Instant};
        let mut watched = Command::new("sleep").arg("30").spawn().unwrap();
        let mut wrapper = Command::new("sh")
            .args(["-c", SERVE_WHILE, "serve-while", &watched.id().to_string(), "sleep", "60"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(wrapper.try_wait().unwrap().is_none(), "serves while the watched process runs");
        watched.kill().unwrap();
        watched.wait().unwrap();
        let started = Instant::now();
        while wrapper.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(wrapper.try_wait().unwrap().is_some(), "ends within seconds of the watched process");
    }
}
