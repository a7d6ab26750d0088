//! The judge of every worklist: a brute-force scan of every replayed case, and a check
//! that a worklist's pages and sweeps equal it. Shared by the in-process and the
//! PostgreSQL tests.
#![allow(dead_code)]

use std::collections::BTreeSet;

use caseledger::testkit::{histories, Cast, Config, History};
use caseledger::worklist::{Breach, Cursor, Page, Query, Row};
use caseledger::{
    policy::{Deadlines, Span},
    Case, CaseId, Event,
};
use proptest::collection::vec;
use proptest::prelude::*;
use time::{Duration, OffsetDateTime};

/// The deadlines every worklist test runs under: both kinds, so cases often have two.
pub fn deadlines() -> Deadlines {
    Deadlines::default().first_response(Span::hours(4)).next_update(Span::days(1))
}

pub fn start() -> OffsetDateTime {
    Config::default().start
}

/// Many cases of three customers, each history from the testkit's generator (distinct
/// case ids: duplicates are dropped).
pub fn many_histories(max: usize) -> impl Strategy<Value = Vec<History>> {
    let staff = Cast::default().staff().to_vec();
    let configs: Vec<_> = ["cust-a", "cust-b", "cust-c"]
        .into_iter()
        .map(|c| histories(&Config::default().with_cast(Cast::new(c, staff.clone())).with_steps(30)))
        .collect();
    vec(proptest::strategy::Union::new(configs), 1..max).prop_map(|hs| {
        let mut seen = BTreeSet::new();
        hs.into_iter().filter(|h| seen.insert(h.case().id())).collect()
    })
}

/// Each history's events, interleaved across cases one event at a time: the order
/// appends reach a store from many writers.
pub fn interleaved(histories: &[History]) -> Vec<Event> {
    let mut out = Vec::new();
    let longest = histories.iter().map(|h| h.events().len()).max().unwrap_or(0);
    for i in 0..longest {
        for h in histories {
            if let Some(e) = h.events().get(i) {
                out.push(e.clone());
            }
        }
    }
    out
}

/// Every open case's row, in the worklist order.
pub fn rows(cases: &[Case], deadlines: &Deadlines) -> Vec<Row> {
    let mut rows: Vec<Row> = cases.iter().filter_map(|c| Row::of(c, deadlines)).collect();
    rows.sort_by_key(Row::cursor);
    rows
}

/// The page a scan answers: the rows the query matches, first `limit`, and whether more.
pub fn scan(rows: &[Row], query: &Query) -> (Vec<Row>, Option<Cursor>) {
    let matching: Vec<&Row> = rows.iter().filter(|r| query.matches(r)).collect();
    let page: Vec<Row> = matching.iter().take(query.page_size()).map(|r| (*r).clone()).collect();
    let next = if matching.len() > query.page_size() { page.last().map(Row::cursor) } else { None };
    (page, next)
}

/// Every deadline of an open case breached in `(after, until]`, as `Deadlines::breached_between`
/// says case by case, ordered by due time, case, kind.
pub fn sweep(
    cases: &[Case],
    deadlines: &Deadlines,
    after: OffsetDateTime,
    until: OffsetDateTime,
) -> Vec<(OffsetDateTime, CaseId, String)> {
    let mut out: Vec<_> = cases
        .iter()
        .flat_map(|c| {
            deadlines.breached_between(c, after, until).into_iter().map(move |d| (d.due_at, c.id(), kind(&d.kind)))
        })
        .collect();
    out.sort();
    out
}

fn kind(kind: &caseledger::policy::DeadlineKind) -> String {
    serde_json::to_string(kind).unwrap()
}

pub fn breaches(found: &[Breach]) -> Vec<(OffsetDateTime, CaseId, String)> {
    found.iter().map(|b| (b.deadline.due_at, b.case, kind(&b.deadline.kind))).collect()
}

/// The questions asked of every worklist: everything, every owner, department and
/// customer in the rows, breached at and due within several times.
pub fn queries(rows: &[Row]) -> Vec<Query> {
    let mut out = vec![Query::all()];
    let owners: BTreeSet<_> = rows.iter().map(|r| r.owner.id.clone()).collect();
    let departments: BTreeSet<_> = rows.iter().map(|r| r.owner.department.clone()).collect();
    let customers: BTreeSet<_> = rows.iter().map(|r| r.customer.clone()).collect();
    out.extend(owners.into_iter().map(Query::owner));
    out.push(Query::owner("nobody"));
    out.extend(departments.into_iter().map(Query::department));
    out.extend(customers.into_iter().map(Query::customer));
    for t in times() {
        out.push(Query::breached(t));
        out.push(Query::due_within(t, Span::hours(6)));
        out.push(Query::due_within(t, Span::days(2)));
    }
    out
}

/// Times the questions are asked at: from the opening of the generated cases to weeks later.
pub fn times() -> Vec<OffsetDateTime> {
    [0, 3, 4, 5, 24, 30, 72, 24 * 7, 24 * 30].into_iter().map(|h| start() + Duration::hours(h)).collect()
}

/// Checks a worklist (asked through `ask` and `sweep_of`) against the scan of `cases`:
/// every query walked page by page with a small page and a large one, and sweeps over
/// consecutive windows.
pub fn check(
    cases: &[Case],
    deadlines: &Deadlines,
    mut ask: impl FnMut(&Query) -> Page,
    mut sweep_of: impl FnMut(OffsetDateTime, OffsetDateTime) -> Vec<Breach>,
) -> Result<(), String> {
    let rows = rows(cases, deadlines);
    for base in queries(&rows) {
        for limit in [3, 50] {
            let mut cursor = None;
            let mut pages = 0;
            loop {
                let query = base.clone().limit(limit).after(cursor);
                let page = ask(&query);
                let (want, next) = scan(&rows, &query);
                if page.rows != want || page.next != next {
                    return Err(format!(
                        "{query:?}: the worklist answered {:?} (next {:?}), the scan {:?} (next {next:?})",
                        page.rows.iter().map(|r| r.case).collect::<Vec<_>>(),
                        page.next,
                        want.iter().map(|r| r.case).collect::<Vec<_>>()
                    ));
                }
                pages += 1;
                match next {
                    Some(c) if pages < 10_000 => cursor = Some(c),
                    _ => break,
                }
            }
        }
    }
    let ts = times();
    let windows = ts.windows(2).map(|w| (w[0], w[1])).chain([(ts[0] - Duration::days(1), ts[ts.len() - 1])]);
    for (after, until) in windows {
        let got = breaches(&sweep_of(after, until));
        let want = sweep(cases, deadlines, after, until);
        if got != want {
            return Err(format!("sweep ({after}, {until}]: the worklist found {got:?}, the scan {want:?}"));
        }
    }
    Ok(())
}

/// Every case of a store, replayed from its log.
pub fn replayed(logs: impl IntoIterator<Item = Vec<Event>>) -> Vec<Case> {
    logs.into_iter().map(|log| Case::replay(&log).expect("a stored log replays")).collect()
}
