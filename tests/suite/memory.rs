//! A folded case's memory depends on what the case holds (work items, facts, owners,
//! channels, incidents), never on how many events it took to get there: a busy case with
//! a hundred times the history weighs the same. Two documented exceptions are not in the
//! serialised state measured here: the latest `Case::IDEMPOTENCY_KEYS_KEPT` keys (bounded)
//! and 16 bytes per change of owner (`Case::owner_at`, for timeline pages).

use caseledger::testkit::sample::typical_log_capped;
use caseledger::{codec::encode_log, Case};

/// What the case retains, measured as the size of its serialised state: every field the
/// case keeps, strings at their length. Kept history would show up here.
fn state_bytes(case: &Case) -> usize {
    serde_json::to_vec(case).expect("a case serialises").len()
}

#[test]
fn a_hundred_times_more_history_does_not_make_the_case_bigger() {
    // The same mix (notes, contacts, replies, fact updates, handoffs between four people)
    // with the same single work item, over 1,000 and over 100,000 events.
    let short = typical_log_capped(1_000, 1).expect("a short log");
    let long = typical_log_capped(100_000, 1).expect("a long log");
    let small = Case::replay(&short).expect("short log folds");
    let big = Case::replay(&long).expect("long log folds");

    assert_eq!(big.version(), 100_000);
    assert_eq!(big.work_items().len(), small.work_items().len());
    assert_eq!(big.facts().len(), small.facts().len());
    assert_eq!(big.previous_owners().len(), small.previous_owners().len());
    assert_eq!(big.departments_left().len(), small.departments_left().len());

    let log_growth = encode_log(&long).unwrap().len() / encode_log(&short).unwrap().len();
    assert!(log_growth >= 90, "the log itself grew {log_growth}x");
    // A few bytes of slack for wider numbers (version, counters, times).
    let (small_bytes, big_bytes) = (state_bytes(&small), state_bytes(&big));
    assert!(
        big_bytes <= small_bytes + 64,
        "case state grew with history: {small_bytes} bytes after 1e3 events, {big_bytes} after 1e5"
    );
}

#[test]
fn the_case_grows_only_with_what_it_holds() {
    // Work items are state, not history: opening more of them is what makes a case bigger.
    let one = Case::replay(&typical_log_capped(10_000, 1).expect("a log")).expect("folds");
    let ten = Case::replay(&typical_log_capped(10_000, 10).expect("a log")).expect("folds");
    assert_eq!(ten.work_items().len(), 10);
    assert!(state_bytes(&ten) > state_bytes(&one));
}
