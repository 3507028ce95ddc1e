//! The sink's target for connector-base's async sink: the check at start that the
//! cluster answers and takes the credentials, and each record made an action.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::async_sink::AsyncSinkTarget;
use stream_core::Result;
use stream_core::api::TaskContext;
use stream_core::retry::RetryPolicy;

use crate::action::Action;
use crate::client::BulkClient;
use crate::connection::Connection;
use crate::emitter::Emitter;
use crate::error::SearchError;
use crate::policy::FailurePolicy;
use crate::transport::{Backend, BulkTransport, Method};

/// Where a search sink writes and how: the cluster, the emitter, the guarantee and
/// the failure policy (see [`crate::SearchSinkBuilder`]).
pub struct SearchIndex<T, B> {
    pub(crate) connection: Connection,
    pub(crate) emitter: Arc<dyn Emitter<T>>,
    pub(crate) guarantee: DeliveryGuarantee,
    pub(crate) policy: FailurePolicy,
    pub(crate) max_retries: u32,
    pub(crate) connect_timeout: Duration,
    pub(crate) backend: PhantomData<fn() -> B>,
}

impl<T, B: Backend> std::fmt::Debug for SearchIndex<T, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(B::SYSTEM)
            .field("connection", &self.connection)
            .field("guarantee", &self.guarantee)
            .field("failure_policy", &self.policy)
            .field("max_retries_per_action", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// Why the root request failed: worth trying again, or not.
enum RootFailure {
    Again(String),
    Never(SearchError),
}

impl std::fmt::Display for RootFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RootFailure::Again(why) => f.write_str(why),
            RootFailure::Never(e) => e.fmt(f),
        }
    }
}

impl<T, B: Backend> SearchIndex<T, B> {
    /// Ask for the cluster's root until it answers, within `connect_timeout`; refused
    /// credentials fail at once, naming who they are.
    async fn check(&self, transport: &B::Transport) -> Result<()> {
        let hosts = self.connection.hosts_text();
        let policy = RetryPolicy::exponential(Duration::from_millis(100), Duration::from_secs(2))
            .give_up_after(self.connect_timeout);
        let attempt = || async {
            let answer = transport.send(Method::Get, "/", None).await.map_err(RootFailure::Again)?;
            match answer.status {
                200..=299 => Ok(()),
                401 | 403 => {
                    let who = self
                        .connection
                        .credentials
                        .as_ref()
                        .map_or("no credentials (set basic_auth, api_key or bearer_token)".into(), |c| c.who());
                    Err(RootFailure::Never(SearchError::Unavailable {
                        system: B::SYSTEM,
                        hosts: hosts.clone(),
                        problem: format!("refused {who} ({}); check the credentials", answer.status),
                    }))
                }
                status @ (429 | 500..=599) => Err(RootFailure::Again(format!("answered {status}"))),
                status => Err(RootFailure::Never(SearchError::Unavailable {
                    system: B::SYSTEM,
                    hosts: hosts.clone(),
                    problem: format!(
                        "answered {status} to `GET /`: {}; is it an {} cluster?",
                        String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)]),
                        B::SYSTEM
                    ),
                })),
            }
        };
        let again = |failure: &RootFailure| matches!(failure, RootFailure::Again(_));
        match policy.retry(B::SYSTEM, attempt, again).await {
            Ok(()) => Ok(()),
            Err(RootFailure::Never(e)) => Err(e.into()),
            Err(RootFailure::Again(last)) => {
                Err(SearchError::Unreachable { system: B::SYSTEM, hosts, timeout: self.connect_timeout, last }.into())
            }
        }
    }
}

impl<T: Send + 'static, B: Backend> AsyncSinkTarget<T> for SearchIndex<T, B> {
    type Client = BulkClient<B>;

    async fn connect(&self, _ctx: &TaskContext) -> Result<BulkClient<B>> {
        let transport =
            B::transport(&self.connection).map_err(|reason| SearchError::Client { system: B::SYSTEM, reason })?;
        self.check(&transport).await?;
        Ok(BulkClient { transport, policy: self.policy.clone(), max_retries: self.max_retries })
    }

    fn connector_name(&self) -> &'static str {
        B::CONNECTOR
    }

    fn convert(&self, record: T) -> Result<Action> {
        let action = self.emitter.emit(&record)?;
        action.check(self.guarantee == DeliveryGuarantee::ExactlyOnce)?;
        Ok(action)
    }

    fn guarantee(&self) -> DeliveryGuarantee {
        self.guarantee
    }
}
