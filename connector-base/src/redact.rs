//! Endpoints as logs and errors may show them: never with a password.

/// `scheme://user:password@host...` with the password replaced by `***`; anything
/// else unchanged.
pub fn redact_url(endpoint: &str) -> String {
    let Some((scheme, rest)) = endpoint.split_once("://") else { return endpoint.to_string() };
    let Some((credentials, host)) = rest.rsplit_once('@') else { return endpoint.to_string() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => endpoint.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_replaced() {
        assert_eq!(redact_url("amqp://guest:s3cret@h:5672/%2f"), "amqp://guest:***@h:5672/%2f");
        assert_eq!(redact_url("rediss://:s3cret@h:1/0"), "rediss://:***@h:1/0");
        assert_eq!(redact_url("redis://h:1"), "redis://h:1");
        assert_eq!(redact_url("127.0.0.1:9092"), "127.0.0.1:9092");
    }
}
