//! Shell scripts that start a server the same way on the host and in a container.

/// `rabbitmq-node PORT DIST_PORT EPMD_PORT DIR` (as `sh -c SCRIPT rabbitmq-node ...`):
/// a RabbitMQ node of its own on 127.0.0.1:PORT with its own distribution and epmd
/// ports (so that several share one host network), its data in DIR, run as the
/// `rabbitmq` user (Debian's wrapper switches to it, and passes no signal on: a
/// SIGTERM to this script goes to the node's own PID, which then shuts down cleanly,
/// and the script waits for it); the same on the host and in
/// the images (the testkit's private nodes) and for `cargo xtask services`.
pub const RABBITMQ_NODE: &str = r#"set -e
port=$1 dist=$2 epmd=$3 dir=$4
mkdir -p "$dir/mnesia" "$dir/log"
printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\n' "$port" > "$dir/rabbitmq.conf"
chown -R rabbitmq: "$dir"
export RABBITMQ_NODENAME="rabbit-$port@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$port" \
  RABBITMQ_DIST_PORT="$dist" ERL_EPMD_PORT="$epmd" ERL_EPMD_ADDRESS=127.0.0.1 \
  RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_CONFIG_FILE="$dir/rabbitmq" \
  RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_PID_FILE="$dir/rabbit.pid" HOME="$dir" \
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
rabbitmq-server &
wrapper=$!
trap 'kill -TERM "$(cat "$dir/rabbit.pid" 2>/dev/null)" 2>/dev/null; wait "$wrapper"' TERM INT
wait "$wrapper"
"#;

/// `postgres-node PORT DIR [OPTION=VALUE...]` (as `sh -c SCRIPT postgres-node ...`): a
/// PostgreSQL server of its own on 127.0.0.1:PORT, its cluster in DIR (made by
/// `initdb` on the first start: user `postgres`, trust authentication), its socket in
/// DIR, prepared transactions allowed (20), each extra `OPTION=VALUE` a `-c` setting.
/// As root it runs as the `postgres` user (PostgreSQL refuses root), who must be able
/// to enter DIR. `fsync` is off: a killed server keeps what the OS has, a machine
/// crash is not tested. A SIGTERM to this script is a fast shutdown (PostgreSQL's own
/// SIGTERM waits for every client to leave), or an immediate one (`pg_ctl -m
/// immediate`: no checkpoint, recovery from the WAL at the next start) when an extra
/// argument is `stop=immediate`. With `tls=on` it also accepts TLS, with a server
/// certificate for 127.0.0.1 and localhost signed by a CA of its own, made by
/// `openssl` on the first start (`ca.crt` in DIR).
pub const POSTGRES_NODE: &str = r#"set -e
port=$1 dir=$2
shift 2
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as=""
mkdir -p "$dir"
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as="setpriv --reuid=postgres --regid=postgres --init-groups --"
fi
chmod 700 "$dir"
if [ ! -f "$dir/PG_VERSION" ]; then
  $as "$bin/initdb" -D "$dir" -A trust -U postgres -E UTF8 --no-sync > /dev/null
fi
settings="" signal=INT tls=off
for setting in "$@"; do
  case "$setting" in
    stop=immediate) signal=QUIT ;;
    tls=on) tls=on ;;
    *) settings="$settings -c $setting" ;;
  esac
done
if [ "$tls" = on ]; then
  if [ ! -f "$dir/server.crt" ]; then
    (
      cd "$dir"
      $as openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN=flink-connectors-rs-test-ca -keyout ca.key -out ca.crt 2> /dev/null
      $as openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr 2> /dev/null
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > san.ext
      $as openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 -extfile san.ext -out server.crt 2> /dev/null
    )
  fi
  settings="$settings -c ssl=on"
fi
$as "$bin/postgres" -D "$dir" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1   -c max_prepared_transactions=20 -c fsync=off $settings &
server=$!
trap 'kill -$signal "$server" 2>/dev/null; wait "$server"' TERM INT
wait "$server"
"#;

/// `prometheus-node PORT DIR [FLAG...]` (as `sh -c SCRIPT prometheus-node ...`): Debian's
/// Prometheus on 127.0.0.1:PORT taking remote writes, its TSDB in DIR/data and a
/// configuration without scrape targets in DIR; extra flags go to `prometheus`.
pub const PROMETHEUS_NODE: &str = r#"set -e
port=$1 dir=$2
shift 2
mkdir -p "$dir/data"
printf 'global:\n  scrape_interval: 1m\n' > "$dir/prometheus.yml"
exec prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
  --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver "$@"
"#;

/// `pulsar-node BINARY PORT DIR [PARTITIONS]` (as `sh -c SCRIPT pulsar-node ...`):
/// pulsar-lite (`BINARY`) on 127.0.0.1:PORT, its RocksDB in DIR/db, topics created on
/// first use with PARTITIONS partitions (default 3), and its metrics listener off (on,
/// it would listen on 0.0.0.0:8080).
pub const PULSAR_NODE: &str = r#"set -e
binary=$1 port=$2 dir=$3 partitions=${4:-3}
mkdir -p "$dir"
printf 'default_partitions = %s\n[metrics]\nenabled = false\n' "$partitions" > "$dir/pulsar.toml"
exec "$binary" --config "$dir/pulsar.toml" --addr "127.0.0.1:$port" --db-path "$dir/db" --log-level warn
"#;
