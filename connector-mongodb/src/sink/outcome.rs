//! What became of one write, told from the driver's errors.

use mongodb::error::{Error, ErrorKind, WriteFailure};

use crate::error::{TRANSIENT_CODES, transient};

/// The duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

/// What became of one write.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Written,
    /// An insert whose `_id` is there already: a replay of a write that landed.
    AlreadyWritten,
    /// Send it again (later, in order).
    Retry,
    /// The server refused this document for good.
    Refused {
        code: i32,
        message: String,
    },
    /// Nothing can be written (credentials, a bad command): the job fails.
    Fatal(Box<Error>),
}

impl PartialEq for Outcome {
    fn eq(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Refused { code: a, message: m }, Outcome::Refused { code: b, message: n }) => a == b && m == n,
            (Outcome::Fatal(a), Outcome::Fatal(b)) => a.to_string() == b.to_string(),
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

/// The outcome of a per-document error `code` (`insert`: the write was an insert).
pub(crate) fn of_code(code: i32, message: &str, insert: bool) -> Outcome {
    if code == DUPLICATE_KEY && insert && names_id_index(message) {
        return Outcome::AlreadyWritten;
    }
    if TRANSIENT_CODES.contains(&code) {
        return Outcome::Retry;
    }
    Outcome::Refused { code, message: message.to_string() }
}

/// Whether a duplicate-key message is about the `_id` index (not a unique index of
/// the user's, which is a real conflict).
fn names_id_index(message: &str) -> bool {
    message.contains("index: _id_") || message.contains("_id_ dup key") || message.contains("dup key: { _id")
}

/// The outcome of the error of a single-document operation.
pub(crate) fn of_error(error: &Error, insert: bool) -> Outcome {
    if let ErrorKind::Write(WriteFailure::WriteError(write)) = error.kind.as_ref() {
        return of_code(write.code, &write.message, insert);
    }
    if transient(error) {
        return Outcome::Retry;
    }
    Outcome::Fatal(Box::new(error.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_id_on_an_insert_is_a_replay_and_other_duplicates_are_refused() {
        let id = "E11000 duplicate key error collection: db.c index: _id_ dup key: { _id: 1 }";
        assert_eq!(of_code(11000, id, true), Outcome::AlreadyWritten);
        let unique = "E11000 duplicate key error collection: db.c index: email_1 dup key: { email: \"a\" }";
        assert!(matches!(of_code(11000, unique, true), Outcome::Refused { code: 11000, .. }));
        assert!(matches!(of_code(11000, id, false), Outcome::Refused { .. }));
        assert_eq!(of_code(91, "shutting down", true), Outcome::Retry);
        assert!(matches!(of_code(121, "Document failed validation", false), Outcome::Refused { code: 121, .. }));
    }
}
