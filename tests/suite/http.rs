//! The HTTP conventions (feature `axum`): an error is a response with its category's
//! status and its report as the body; `If-Match` and `ETag` carry case versions;
//! `Idempotency-Key` reaches the request; a header that cannot be read is refused with
//! a typed error, never a panic and never silently ignored.

use axum::extract::FromRequestParts;
use axum::response::IntoResponse;
use caseledger::error::{ErrorReport, HeaderError, KeyError, RequestError, StoreError};
use caseledger::http::{status, CommandHeaders, ETag, Idempotency, IfMatch};
use caseledger::{Actor, CaseRequest, Error, IdempotencyKey, MemoryStore, Opening, Refusal, Repository, Rules};
use http::header::{ETAG, IF_MATCH};
use http::{HeaderMap, HeaderValue, Request, StatusCode};

use crate::support::{ana, case_id, note, T0};

async fn body(response: axum::response::Response) -> ErrorReport {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn an_error_is_a_response_with_its_category_s_status_and_its_report() {
    let cases: Vec<(Error, StatusCode)> = vec![
        (Refusal::OutcomeUnmet { outcome: "my laptop works".into() }.into(), StatusCode::CONFLICT),
        (StoreError::UnknownCase { case: case_id(1) }.into(), StatusCode::NOT_FOUND),
        (StoreError::Conflict { case: case_id(1), expected: 2, actual: 3 }.into(), StatusCode::CONFLICT),
        (
            RequestError::PreconditionFailed { case: case_id(1), expected: 2, actual: 3 }.into(),
            StatusCode::PRECONDITION_FAILED,
        ),
        (KeyError::Empty.into(), StatusCode::UNPROCESSABLE_ENTITY),
        (HeaderError::IfMatch { value: "soon".into() }.into(), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (error, want) in cases {
        let report = error.report();
        assert_eq!(status(&error), want, "{error}");
        let response = error.into_response();
        assert_eq!(response.status(), want);
        assert_eq!(body(response).await, report, "the body is the library's report");
    }
}

fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_bytes(value).unwrap());
    }
    map
}

#[test]
fn if_match_reads_back_the_etag_and_refuses_anything_else() {
    for version in [0, 3, u64::MAX] {
        let mut map = HeaderMap::new();
        map.insert(IF_MATCH, ETag(version).value());
        assert_eq!(IfMatch::from_headers(&map).unwrap(), IfMatch(Some(version)));
    }
    assert_eq!(IfMatch::from_headers(&HeaderMap::new()).unwrap(), IfMatch(None), "absent: no check");
    assert_eq!(IfMatch::from_headers(&headers(&[("if-match", b"*")])).unwrap(), IfMatch(None), "any version");
    assert_eq!(IfMatch::from_headers(&headers(&[("if-match", b"W/\"7\"")])).unwrap(), IfMatch(Some(7)));
    for bad in [&b"3"[..], b"\"\"", b"\"-1\"", b"\"3\", \"4\"", b"\"99999999999999999999\"", b"\"3"] {
        let err = IfMatch::from_headers(&headers(&[("if-match", bad)])).unwrap_err();
        assert!(matches!(err, HeaderError::IfMatch { .. }), "{err}");
    }
    let err = IfMatch::from_headers(&headers(&[("if-match", b"\"3\xff\"")])).unwrap_err();
    assert_eq!(err, HeaderError::NotText { header: "If-Match".into() });
}

#[test]
fn idempotency_key_becomes_the_library_s_key_or_a_typed_refusal() {
    let key = Idempotency::from_headers(&headers(&[("idempotency-key", b" req-42 ")])).unwrap();
    assert_eq!(key, Idempotency(Some(IdempotencyKey::new("req-42").unwrap())));
    assert_eq!(Idempotency::from_headers(&HeaderMap::new()).unwrap(), Idempotency(None));
    let long = vec![b'k'; 300];
    let err = Idempotency::from_headers(&headers(&[("idempotency-key", &long)])).unwrap_err();
    assert!(matches!(err, Error::Key(KeyError::TooLong { bytes: 300, .. })), "{err}");
    let err = Idempotency::from_headers(&headers(&[("idempotency-key", b"")])).unwrap_err();
    assert!(matches!(err, Error::Key(KeyError::Empty)), "{err}");
}

#[tokio::test]
async fn command_headers_put_if_match_and_the_key_on_the_request() {
    let repo = Repository::new(MemoryStore::new(), Rules::default());
    let case = case_id(1);
    repo.open(case, Opening::new("cust-7", "my laptop works", ana()), &Actor::customer("cust-7"), T0).unwrap();

    let (mut parts, ()) = Request::builder()
        .header(IF_MATCH, ETag::of(&repo.case(case).unwrap()).value())
        .header("Idempotency-Key", "req-1")
        .body(())
        .unwrap()
        .into_parts();
    let extracted = CommandHeaders::from_request_parts(&mut parts, &()).await.unwrap();
    let request = extracted.apply(CaseRequest::new(case, note("called back"), ana(), T0));
    let first = repo.run(request.clone()).unwrap();
    let retry = repo.run(request).unwrap();
    assert!(retry.already_done, "the key made the retry a replay, If-Match notwithstanding");
    assert_eq!((retry.events, retry.version), (first.events, 2));

    let stale = headers(&[("if-match", b"\"1\"")]);
    let request = CommandHeaders::from_headers(&stale).unwrap().apply(CaseRequest::new(case, note("late"), ana(), T0));
    let err = repo.run(request).unwrap_err();
    assert!(matches!(err, Error::Request(RequestError::PreconditionFailed { expected: 1, actual: 2, .. })), "{err}");
    assert_eq!(err.into_response().status(), StatusCode::PRECONDITION_FAILED);

    let (mut parts, ()) = Request::builder().header(IF_MATCH, "three").body(()).unwrap().into_parts();
    let rejection = CommandHeaders::from_request_parts(&mut parts, &()).await.unwrap_err();
    assert_eq!(rejection.into_response().status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[test]
fn an_etag_is_a_response_part() {
    let response = (ETag(4), "body").into_response();
    assert_eq!(response.headers()[ETAG], "\"4\"");
}
