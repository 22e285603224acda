//! The vectors, one module per group. Names start with the group.

mod auth;
pub(crate) mod body;
mod cbor;
mod code;
mod framing;
mod kdf;
mod order;
mod rules;
pub(crate) mod schema;
mod truncation;
mod valid;

use crate::Case;

/// Every case of every group.
pub fn all() -> Vec<Case> {
    [
        framing::cases(),
        truncation::cases(),
        cbor::cases(),
        schema::cases(),
        kdf::cases(),
        auth::cases(),
        body::cases(),
        valid::cases(),
        rules::cases(),
        code::cases(),
        order::cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}
