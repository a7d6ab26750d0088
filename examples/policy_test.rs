//! A host tests its own service policy against generated case histories.
//!
//! The host's rule: a case is resolved by the department that owns the customer (the one
//! it was opened in). Whoever else holds the case when the customer confirms hands it
//! back first. The property: no case is ever resolved by someone outside the owning
//! department.
//!
//! Run with `cargo run --example policy_test --features proptest`. It checks the policy,
//! then shows what the kit reports for a subtly wrong version of it.

use caseledger::testkit::{check_histories, Config, History};
use caseledger::{id::Department, policy::Proposal, Case, EventKind, Policy, Rules};

/// The host's policy, as it would ship in their CRM.
#[derive(Debug)]
struct OwningDepartmentResolves;

/// The department that owns the customer: where the case was opened.
fn owning_department(case: &Case) -> &Department {
    &case.previous_owners().first().unwrap_or(case.owner()).department
}

impl Policy for OwningDepartmentResolves {
    fn name(&self) -> &str {
        "owning_department_resolves"
    }

    fn check(&self, case: &Case, proposal: &Proposal<'_>) -> Result<(), String> {
        let home = owning_department(case);
        match (proposal.what, proposal.by.department()) {
            (EventKind::Resolved { .. }, Some(dept)) if dept != home => {
                Err(format!("{dept} cannot resolve a case owned by {home}; hand it back to {home}"))
            }
            _ => Ok(()),
        }
    }
}

/// A first draft of the same policy with a bug: it compares against the department
/// holding the case now, which is always the resolver's own.
#[derive(Debug)]
struct FirstDraft;

impl Policy for FirstDraft {
    fn name(&self) -> &str {
        "owning_department_resolves_draft"
    }

    fn check(&self, case: &Case, proposal: &Proposal<'_>) -> Result<(), String> {
        let holder = &case.owner().department;
        match (proposal.what, proposal.by.department()) {
            (EventKind::Resolved { .. }, Some(dept)) if dept != holder => Err(format!("{dept} cannot resolve")),
            _ => Ok(()),
        }
    }
}

/// The property, stated over the history the rules recorded.
fn never_resolved_outside_the_owning_department(history: &History) -> Result<(), String> {
    let home = &history.first_owner().department;
    for event in history.events() {
        if matches!(event.what, EventKind::Resolved { .. }) && event.by.department() != Some(home) {
            return Err(format!("event {} resolved the case outside {home}: by {}", event.seq, event.by));
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::new(Rules::default().with_policy(OwningDepartmentResolves));
    check_histories(&config, never_resolved_outside_the_owning_department)?;
    println!("owning_department_resolves: the property held on {} generated histories", config.proptest.cases);

    let draft = Config::new(Rules::default().with_policy(FirstDraft));
    match check_histories(&draft, never_resolved_outside_the_owning_department) {
        Err(failure) => println!("\nThe first draft fails, and the kit shrinks it to a minimal case:\n\n{failure}"),
        Ok(()) => return Err("the first draft should have been caught".into()),
    }
    Ok(())
}
