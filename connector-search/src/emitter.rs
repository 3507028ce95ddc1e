//! How a record becomes a bulk action.

use stream_core::Result;

use crate::action::Action;

/// Makes the bulk action of a record: any `Fn(&T) -> Result<Action>`, for example
/// `|order: &Order| Action::index("orders", order).map(|a| a.id(order.id.to_string()))`.
pub trait Emitter<T>: Send + Sync + 'static {
    /// The action for `record`; an error fails the job and should say what is wrong
    /// with the record.
    fn emit(&self, record: &T) -> Result<Action>;
}

impl<T, F> Emitter<T> for F
where
    F: Fn(&T) -> Result<Action> + Send + Sync + 'static,
{
    fn emit(&self, record: &T) -> Result<Action> {
        self(record)
    }
}
