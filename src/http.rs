//! HTTP conventions for hosts on axum (feature `axum`): errors as responses, case
//! versions as `ETag`/`If-Match`, and `Idempotency-Key` into requests.
//!
//! - [`Error`] and [`ErrorReport`] are axum responses: the status their
//!   [`ErrorCategory`](crate::error::ErrorCategory) maps to (the table in
//!   [`error`](crate::error)) and the report as the JSON body.
//! - [`ETag`] writes a case's version as a strong entity tag (`ETag: "3"`); [`IfMatch`]
//!   reads it back from `If-Match` as the version the author saw.
//! - [`Idempotency`] reads `Idempotency-Key` as an [`IdempotencyKey`].
//! - [`CommandHeaders`] extracts both and puts them on a [`CaseRequest`].
//!
//! A header that cannot be read is refused with a [`HeaderError`] or a
//! [`KeyError`](crate::error::KeyError) (both `invalid`, 422), itself a response.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use axum::{extract::{Path, State}, response::IntoResponse, Json};
//! use caseledger::http::{CommandHeaders, ETag};
//! use caseledger::{CaseId, CaseRequest, Command, Error, MemoryStore, Repository, Staff};
//! use time::OffsetDateTime;
//!
//! /// `POST /cases/{id}/commands`: `If-Match` and `Idempotency-Key` onto the request,
//! /// the events and the case's new `ETag` back, any error as its report and status
//! /// (a stale `If-Match` answers 412).
//! async fn command(
//!     State(repo): State<Arc<Repository<MemoryStore>>>,
//!     Path(id): Path<CaseId>,
//!     headers: CommandHeaders,
//!     Json(command): Json<Command>,
//! ) -> Result<impl IntoResponse, Error> {
//!     let ana = Staff::new("ana", "software"); // who the sign-in says
//!     let done = repo.run(headers.apply(CaseRequest::new(id, command, ana, OffsetDateTime::now_utc())))?;
//!     Ok((ETag(done.version), Json(done.events)))
//! }
//! # let repo = Arc::new(caseledger::Repository::new(MemoryStore::new(), caseledger::Rules::default()));
//! # let _router: axum::Router = axum::Router::new()
//! #     .route("/cases/{id}/commands", axum::routing::post(command))
//! #     .with_state(repo);
//! ```

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use axum::Json;
use http::header::{HeaderMap, HeaderValue, ETAG, IF_MATCH};
use http::request::Parts;
use http::StatusCode;

use crate::case::Case;
use crate::error::{Error, ErrorReport, HeaderError};
use crate::id::IdempotencyKey;
use crate::repository::CaseRequest;

/// The `Idempotency-Key` request header (IETF draft `httpapi-idempotency-key-header`).
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The HTTP status an error's category maps to (see
/// [`ErrorCategory::http_status`](crate::error::ErrorCategory::http_status)).
#[must_use]
pub fn status(error: &Error) -> StatusCode {
    status_of(error.category().http_status())
}

fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for ErrorReport {
    /// The report as a JSON body, with its category's status.
    fn into_response(self) -> Response {
        (status_of(self.http_status()), Json(self)).into_response()
    }
}

impl IntoResponse for Error {
    /// [`Error::report`] as a JSON body, with its category's status.
    fn into_response(self) -> Response {
        self.report().into_response()
    }
}

impl IntoResponse for HeaderError {
    fn into_response(self) -> Response {
        Error::from(self).into_response()
    }
}

/// A case version as a strong entity tag: a response part (`ETag: "3"`), and the value
/// [`IfMatch`] reads back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ETag(pub u64);

impl ETag {
    /// The ETag of `case` as it is now.
    #[must_use]
    pub fn of(case: &Case) -> Self {
        Self(case.version())
    }

    /// The header value, `"3"`.
    #[must_use]
    pub fn value(self) -> HeaderValue {
        // Digits between quotes are always a valid header value.
        HeaderValue::from_str(&format!("\"{}\"", self.0)).unwrap_or(HeaderValue::from_static("\"0\""))
    }
}

impl IntoResponseParts for ETag {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.headers_mut().insert(ETAG, self.value());
        Ok(res)
    }
}

impl IntoResponse for ETag {
    fn into_response(self) -> Response {
        (self, StatusCode::NO_CONTENT).into_response()
    }
}

/// The `If-Match` request header as the case version its author saw: `None` when it is
/// absent or `*` (any version). An entity tag this crate did not write, a list of tags or
/// a weak tag of another form is refused with [`HeaderError::IfMatch`].
///
/// Pass it on with [`CaseRequest::expect_version`]; a case that has left that version
/// answers [`RequestError::PreconditionFailed`](crate::error::RequestError::PreconditionFailed)
/// (412) without deciding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct IfMatch(pub Option<u64>);

impl IfMatch {
    /// Reads `If-Match` from `headers`.
    ///
    /// # Errors
    ///
    /// [`HeaderError::NotText`] or [`HeaderError::IfMatch`] when the header is present but
    /// does not name one version.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::http::{ETag, IfMatch};
    /// use http::{header::IF_MATCH, HeaderMap};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert(IF_MATCH, ETag(3).value());
    /// assert_eq!(IfMatch::from_headers(&headers)?, IfMatch(Some(3)));
    /// headers.insert(IF_MATCH, "\"3\", \"4\"".parse()?);
    /// assert!(IfMatch::from_headers(&headers).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, HeaderError> {
        let Some(value) = headers.get(IF_MATCH) else { return Ok(Self(None)) };
        let text = value.to_str().map_err(|_| HeaderError::NotText { header: "If-Match".into() })?.trim();
        if text == "*" {
            return Ok(Self(None));
        }
        let tag = text.strip_prefix("W/").unwrap_or(text);
        let version = tag
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse().ok());
        match version {
            Some(version) => Ok(Self(Some(version))),
            None => Err(HeaderError::IfMatch { value: text.to_owned() }),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_headers(&parts.headers)?)
    }
}

/// The `Idempotency-Key` request header as an [`IdempotencyKey`], `None` when absent.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Idempotency(pub Option<IdempotencyKey>);

impl Idempotency {
    /// Reads `Idempotency-Key` from `headers` (surrounding spaces trimmed).
    ///
    /// # Errors
    ///
    /// [`HeaderError::NotText`], or the [`KeyError`](crate::error::KeyError) saying why
    /// the text is not a key.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, Error> {
        let Some(value) = headers.get(IDEMPOTENCY_KEY) else { return Ok(Self(None)) };
        let text = value.to_str().map_err(|_| HeaderError::NotText { header: "Idempotency-Key".into() })?;
        Ok(Self(Some(IdempotencyKey::new(text.trim())?)))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Idempotency {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_headers(&parts.headers)
    }
}

/// What a command's request headers add to it: `If-Match` and `Idempotency-Key`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CommandHeaders {
    /// The version the author saw (`If-Match`).
    pub if_match: Option<u64>,
    /// The client's idempotency key (`Idempotency-Key`).
    pub key: Option<IdempotencyKey>,
}

impl CommandHeaders {
    /// Reads both headers from `headers`.
    ///
    /// # Errors
    ///
    /// As [`IfMatch::from_headers`] and [`Idempotency::from_headers`].
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, Error> {
        Ok(Self { if_match: IfMatch::from_headers(headers)?.0, key: Idempotency::from_headers(headers)?.0 })
    }

    /// `request` with the expected version and the key these headers carry.
    pub fn apply(self, request: CaseRequest) -> CaseRequest {
        let request = match self.if_match {
            Some(version) => request.expect_version(version),
            None => request,
        };
        match self.key {
            Some(key) => request.key(key),
            None => request,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CommandHeaders {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_headers(&parts.headers)
    }
}
