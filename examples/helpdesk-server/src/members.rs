//! What a request body may name: only the members its request has, and only staff the
//! server's configuration knows.
//!
//! The library's `Command` ignores members it does not know (serde's default), so a
//! misspelt `visibilty` would pass unnoticed. The server refuses them instead, the same
//! way for every body: the body is parsed, written back out, and any member of what was
//! sent that the written form lacks is named in a 422 `unknown_member`.

use caseledger::{Command, Staff};
use serde_json::Value;

use crate::ApiError;

/// The first member of `sent` that `understood` (the parsed body written back out) does
/// not have, as a dotted path (`to.email`); `None` when every member was understood.
pub(crate) fn unknown_member(sent: &Value, understood: &Value) -> Option<String> {
    let (Value::Object(sent), Value::Object(understood)) = (sent, understood) else {
        return None;
    };
    sent.iter().find_map(|(name, value)| match understood.get(name) {
        None => Some(name.clone()),
        Some(known) => unknown_member(value, known).map(|inner| format!("{name}.{inner}")),
    })
}

/// The refusal for a body that names `member`.
pub(crate) fn refuse_member(member: &str) -> ApiError {
    let mut err =
        ApiError::invalid("unknown_member", format!("the body names `{member}`, which this request does not have"));
    err.details.insert("member".into(), Value::String(member.into()));
    err
}

/// The member serde names in an `unknown field` error, for types that deny them
/// themselves, so both ways of finding one answer alike.
pub(crate) fn member_in_serde_error(message: &str) -> Option<&str> {
    message.strip_prefix("unknown field `")?.split('`').next()
}

/// The staff members a command hands the case to (transfers and escalations, also
/// inside an override).
pub(crate) fn receivers(command: &Command) -> Vec<&Staff> {
    match command {
        Command::Transfer { to, .. } | Command::Escalate { to, .. } => vec![to],
        Command::Override { command, .. } => receivers(command),
        _ => Vec::new(),
    }
}

/// The refusal for handing a case to someone who is not configured staff: nobody could
/// sign in to answer for it.
pub(crate) fn refuse_staff(staff: &Staff) -> ApiError {
    let mut err = ApiError::invalid(
        "unknown_staff",
        format!("{staff} is not in the staff configuration: a case goes only to someone who can sign in"),
    );
    err.details.insert("staff".into(), Value::String(staff.id.to_string()));
    err.details.insert("department".into(), Value::String(staff.department.to_string()));
    err
}
