//! What the embedded file store costs: a synced append through the repository, and
//! opening a directory of cases (the recovery scan a restart pays).

use std::path::PathBuf;

use caseledger::{event::Visibility, Actor, CaseId, Command, FileStore, Opening, Repository, Rules, Staff};
use criterion::{criterion_group, criterion_main, Criterion};
use time::macros::datetime;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caseledger-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn note() -> Command {
    Command::AddNote { text: "customer called again".into(), visibility: Visibility::Internal }
}

fn append_synced(c: &mut Criterion) {
    let dir = scratch("append");
    let t = datetime!(2026-11-23 09:00 UTC);
    let ana = Staff::new("ana", "software");
    let by = Actor::Staff(ana.clone());
    let case = CaseId::new_v7(t, [1; 10]);
    let repo = Repository::new(FileStore::open(&dir).unwrap(), Rules::default());
    repo.open(case, Opening::new("cust-1", "my laptop works", ana), &Actor::customer("cust-1"), t).unwrap();
    c.bench_function("file_store/execute_one_command_synced", |b| {
        b.iter(|| repo.execute(case, note(), &by, t).unwrap());
    });
    drop(repo);
    let _ = std::fs::remove_dir_all(&dir);
}

fn open_directory(c: &mut Criterion) {
    let dir = scratch("open");
    let t = datetime!(2026-11-23 09:00 UTC);
    let ana = Staff::new("ana", "software");
    let by = Actor::Staff(ana.clone());
    {
        let repo = Repository::new(FileStore::open(&dir).unwrap(), Rules::default());
        for n in 0..100u8 {
            let case = CaseId::new_v7(t, [n; 10]);
            repo.open(
                case,
                Opening::new(format!("cust-{n}"), "my laptop works", ana.clone()),
                &Actor::customer(format!("cust-{n}")),
                t,
            )
            .unwrap();
            for _ in 0..19 {
                repo.execute(case, note(), &by, t).unwrap();
            }
        }
    }
    c.bench_function("file_store/open_100_cases_of_20_events", |b| {
        b.iter(|| FileStore::open(&dir).unwrap());
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = append_synced, open_directory
}
criterion_main!(benches);
