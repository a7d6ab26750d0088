-- The worklist's tables (caseledger::worklist::PgWorklist), written by its projection
-- runner in the same transaction as its checkpoint. PgWorklist::migrate runs this under
-- an advisory lock; every statement is idempotent.

-- One row per open case. Due times are (seconds, nanoseconds) since 1970 so the order
-- is the in-process order to the nanosecond; a case with no deadline has due_s at the
-- largest bigint and sorts last.
CREATE TABLE IF NOT EXISTS caseledger_worklist (
    case_id    uuid    PRIMARY KEY,
    customer   text    NOT NULL,
    owner_id   text    NOT NULL,
    department text    NOT NULL,
    waiting_on text    NOT NULL,
    due_s      bigint  NOT NULL,
    due_ns     integer NOT NULL,
    -- The whole row as JSON (caseledger::worklist::Row).
    row_json   text    NOT NULL
);
-- One index per query, each in the worklist order.
CREATE INDEX IF NOT EXISTS caseledger_worklist_due ON caseledger_worklist (due_s, due_ns, case_id);
CREATE INDEX IF NOT EXISTS caseledger_worklist_owner ON caseledger_worklist (owner_id, due_s, due_ns, case_id);
CREATE INDEX IF NOT EXISTS caseledger_worklist_department ON caseledger_worklist (department, due_s, due_ns, case_id);
CREATE INDEX IF NOT EXISTS caseledger_worklist_customer ON caseledger_worklist (customer, due_s, due_ns, case_id);

-- Every pending deadline of every open case: the deadline sweep reads a range of it.
CREATE TABLE IF NOT EXISTS caseledger_worklist_deadlines (
    case_id uuid    NOT NULL,
    kind    text    NOT NULL,
    due_s   bigint  NOT NULL,
    due_ns  integer NOT NULL,
    PRIMARY KEY (case_id, kind)
);
CREATE INDEX IF NOT EXISTS caseledger_worklist_deadlines_due ON caseledger_worklist_deadlines (due_s, due_ns, case_id, kind);
