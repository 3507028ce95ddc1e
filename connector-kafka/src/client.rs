//! Client properties shared by consumers and producers: `bootstrap.servers` plus any
//! librdkafka property; secrets are never printed.

use rdkafka::ClientConfig;

/// Properties the connector sets itself; the builders refuse them as overrides.
const OWNED: [&str; 4] = ["bootstrap.servers", "group.id", "enable.auto.commit", "transactional.id"];

/// librdkafka defaults the connector changes (the user's properties still win):
/// reconnect backoff at most 1 s, as the Java client Flink uses, instead of
/// librdkafka's 10 s, so that a client is back within a second of a broker or the
/// network coming back (a million records under cuts took 176 s with 10 s).
const DEFAULTS: [(&str, &str); 1] = [("reconnect.backoff.max.ms", "1000")];

/// librdkafka properties of one client.
#[derive(Clone, Default)]
pub(crate) struct ClientProperties {
    pub bootstrap: String,
    pub properties: Vec<(String, String)>,
}

impl std::fmt::Debug for ClientProperties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: Vec<(&str, &str)> =
            self.properties.iter().map(|(k, v)| (k.as_str(), if is_secret(k) { "***" } else { v.as_str() })).collect();
        f.debug_struct("ClientProperties").field("bootstrap", &self.bootstrap).field("properties", &shown).finish()
    }
}

/// Whether a property holds a secret (passwords, keys, tokens).
pub(crate) fn is_secret(key: &str) -> bool {
    ["password", "secret", "token", "key.pem", "sasl.jaas"].iter().any(|s| key.contains(s))
}

impl ClientProperties {
    /// A property the connector manages itself, so it may not be overridden.
    pub fn owned(key: &str) -> bool {
        OWNED.contains(&key)
    }

    /// The client configuration: bootstrap, the user's properties, then `fixed`.
    pub fn config(&self, fixed: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        for (k, v) in DEFAULTS {
            config.set(k, v);
        }
        for (k, v) in &self.properties {
            config.set(k, v);
        }
        for (k, v) in fixed {
            config.set(*k, *v);
        }
        config.set_log_level(rdkafka::config::RDKafkaLogLevel::Warning);
        config
    }

    /// Check every property with librdkafka itself (names, values, and what this
    /// build of librdkafka supports, such as TLS), so that a bad one fails `build()`
    /// naming it instead of the job at run time.
    pub fn validate(&self) -> stream_core::Result<()> {
        match self.config(&[]).create_native_config() {
            Ok(_) => Ok(()),
            Err(rdkafka::error::KafkaError::ClientConfig(_, description, key, value)) => {
                let value = if is_secret(&key) { "***" } else { value.as_str() };
                let security = key == "security.protocol" || key.starts_with("ssl.") || key.starts_with("sasl.");
                let hint = if security {
                    " (TLS and SASL/SCRAM need connector-kafka's `ssl` feature, GSSAPI its `gssapi` feature)"
                } else {
                    ""
                };
                Err(stream_core::StreamError::invalid(
                    "property",
                    format!("{key}={value}"),
                    format!("{description}{hint}"),
                ))
            }
            Err(other) => Err(crate::error::KafkaError::client("check the client properties", other)),
        }
    }

    /// The value the user set for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.properties.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A client whose destruction happens on a thread of its own: librdkafka's destroy of a
/// consumer with an assignment blocks for ~100 ms (it waits for its broker threads),
/// which made the end of every bounded read that much later.
pub(crate) struct DropInBackground<C: Send + 'static>(Option<C>);

impl<C: Send + 'static> DropInBackground<C> {
    pub fn new(client: C) -> Self {
        DropInBackground(Some(client))
    }
}

impl<C: Send + 'static> std::ops::Deref for DropInBackground<C> {
    type Target = C;

    fn deref(&self) -> &C {
        // `Some` from `new` until `drop`.
        self.0.as_ref().unwrap_or_else(|| unreachable!("taken only in drop"))
    }
}

impl<C: Send + 'static> Drop for DropInBackground<C> {
    fn drop(&mut self) {
        if let Some(client) = self.0.take()
            && let Err(e) = std::thread::Builder::new().name("rdkafka-destroy".into()).spawn(move || drop(client))
        {
            tracing::debug!(error = %e, "no thread to destroy a Kafka client on; it was destroyed in place");
        }
    }
}
