//! The table every error type is declared with: each variant is written once with its
//! code and category, and [`error_table!`] generates the rest from that row.
//!
//! ```text
//! error_table! {
//!     /// Why …
//!     #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
//!     #[non_exhaustive]
//!     pub enum Refusal {
//!         /// What the variant means.
//!         #[error("its message, with {field}")]
//!         Variant = ("variant_code", Category) { field: Type, … },
//!         UnitVariant = ("unit_variant_code", Category),
//!         …
//!     }
//!     /// What kind of failure this is, … (the docs of `category()`)
//!     fn category;
//! }
//! ```
//!
//! From each row come the variant (with its `Display` text from the `#[error]` line, as
//! `thiserror` writes it), `#[serde(rename = code)]` under the enum's `#[serde(tag = "code")]`
//! so the serialized form is tagged with the same code, the arms of `code()` and
//! `category()`, `report()`, the type's `CODES` list, and a `codes` module with one
//! constant per variant for the crate's own use. A code is therefore spelled once
//! in the source, and no list can miss a variant. A `macro_rules!` table rather than a
//! derive: the crate takes no proc-macro dependency of its own.

/// What the umbrella [`Error`](super::Error) asks of each error it wraps; implemented by
/// [`error_table!`] for every table, so the umbrella delegates through one match.
pub(super) trait Coded {
    /// The variant's stable code.
    fn code(&self) -> &'static str;
    /// The variant's category.
    fn category(&self) -> super::ErrorCategory;
    /// The error as a host sends it.
    fn report(&self) -> super::ErrorReport;
}

/// Declares an error enum from its table (see the module docs for the shape).
macro_rules! error_table {
    (
        $(#[$attr:meta])*
        pub enum $name:ident {
            $(
                $(#[$variant_attr:meta])*
                $variant:ident = ($code:literal, $category:ident) $({ $($fields:tt)* })?,
            )*
        }
        $(#[$category_doc:meta])*
        fn category;
    ) => {
        $(#[$attr])*
        #[serde(tag = "code")]
        pub enum $name {
            $(
                $(#[$variant_attr])*
                #[serde(rename = $code)]
                $variant $({ $($fields)* })?,
            )*
        }

        impl $name {
            #[doc = concat!(
                "Every variant of `", stringify!($name), "` with its code and category, in ",
                "declaration order: the table [`code`](Self::code) and [`category`](Self::category) read."
            )]
            pub const CODES: &'static [$crate::error::transport::ErrorCode] = &[
                $($crate::error::transport::ErrorCode::new(
                    stringify!($name),
                    stringify!($variant),
                    $code,
                    $crate::error::transport::ErrorCategory::$category,
                ),)*
            ];

            /// A stable, machine-readable name for what went wrong, in snake_case; the
            /// serialized form is tagged with it. Codes never change once released;
            /// messages may be reworded. Every code is listed in [`CODES`](Self::CODES).
            #[must_use]
            pub fn code(&self) -> &'static str {
                match self {
                    $(Self::$variant { .. } => $code,)*
                }
            }

            $(#[$category_doc])*
            #[must_use]
            pub fn category(&self) -> $crate::error::transport::ErrorCategory {
                match self {
                    $(Self::$variant { .. } => $crate::error::transport::ErrorCategory::$category,)*
                }
            }

            /// The error as `{code, category, message, details}`, for a host's response
            /// body or log (see [`ErrorReport`](crate::error::ErrorReport)).
            #[must_use]
            pub fn report(&self) -> $crate::error::transport::ErrorReport {
                $crate::error::transport::ErrorReport::of(self.code(), self.category(), self)
            }
        }

        /// Each variant's code by the variant's name, for the crate's own tables that
        /// name a rule by its code (the override module's invariant aliases), so those
        /// tables hold no second spelling of it.
        #[allow(dead_code, non_upper_case_globals)]
        pub(crate) mod codes {
            $(pub(crate) const $variant: &str = $code;)*
        }

        impl $crate::error::table::Coded for $name {
            fn code(&self) -> &'static str {
                $name::code(self)
            }
            fn category(&self) -> $crate::error::transport::ErrorCategory {
                $name::category(self)
            }
            fn report(&self) -> $crate::error::transport::ErrorReport {
                $name::report(self)
            }
        }
    };
}

pub(crate) use error_table;
