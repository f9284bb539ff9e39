//! The domain: applications, chats and messages as clients see them, and the validated values
//! (tokens, numbers, names, bodies, queries, pages) every operation takes.
//!
//! Each value type has a `parse` that returns a typed [`crate::Error`], so nothing downstream ever
//! handles unchecked input. Representations serialize exactly as the HTTP API documents them,
//! and none of them carries an internal id.

mod ids;
mod limits;
mod page;
mod resources;
mod search;
#[cfg(test)]
mod tests;
mod values;

pub use self::ids::*;
pub use self::limits::*;
pub use self::page::*;
pub use self::resources::*;
pub use self::search::*;
pub use self::values::*;
