//! Errors from building or reading a [`super::Representation`].

use super::Field;

/// Why a representation spec (or a view) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReprError {
    /// The spec was written by a newer (or unknown) format version.
    #[error(
        "representation version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion { found: u32, supported: u32 },
    /// A view names a header field that does not exist.
    #[error("unknown header field `{name}` (see Field::ALL for the names)")]
    UnknownField { name: String },
    /// A view asks to randomise a field that is always zero.
    #[error("`{field}` cannot be randomised: addresses and padding are always zero")]
    CannotRandomise { field: Field },
    /// A view lists a field both to zero and to randomise.
    #[error("`{field}` is listed both in `zero` and in `randomise`")]
    ConflictingActions { field: Field },
    /// A size outside what the representation supports.
    #[error("`{what}` must be between {min} and {max}, got {found}")]
    OutOfRange {
        what: &'static str,
        found: u64,
        min: u64,
        max: u64,
    },
    /// The spec is not valid JSON or lacks a required key.
    #[error("invalid representation spec: {message}")]
    Json { message: String },
}
