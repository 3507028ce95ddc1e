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
