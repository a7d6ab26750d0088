-- caseledger schema 1 (PostgreSQL 13 or later: the feed uses xid8).
-- PgStore::migrate runs this under an advisory lock, so two nodes starting at once
-- do not race; every statement is idempotent.

-- Every event of every case. `body` is the event's JSON exactly as encoded
-- (text, not jsonb: jsonb reorders keys and refuses the escape \u0000).
CREATE TABLE IF NOT EXISTS caseledger_events (
    position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction: the feed reads only below the oldest one still running.
    tx       xid8   NOT NULL DEFAULT pg_current_xact_id(),
    case_id  uuid   NOT NULL,
    seq      bigint NOT NULL CHECK (seq >= 1),
    event_id uuid   NOT NULL,
    kind     text   NOT NULL,
    body     text   NOT NULL,
    CONSTRAINT caseledger_events_case_seq UNIQUE (case_id, seq),
    CONSTRAINT caseledger_events_case_event UNIQUE (case_id, event_id)
);
CREATE INDEX IF NOT EXISTS caseledger_events_feed ON caseledger_events (tx, position);

-- One row per case, written with its first event: `cases()` pages over it, and the
-- customer index answers "all cases of this customer" in one query.
CREATE TABLE IF NOT EXISTS caseledger_cases (
    case_id  uuid PRIMARY KEY,
    customer text
);
CREATE INDEX IF NOT EXISTS caseledger_cases_customer ON caseledger_cases (customer, case_id);

-- Cases linked to an incident (S6).
CREATE TABLE IF NOT EXISTS caseledger_incident_cases (
    incident text NOT NULL,
    case_id  uuid NOT NULL,
    PRIMARY KEY (incident, case_id)
);

CREATE TABLE IF NOT EXISTS caseledger_schema (
    version integer PRIMARY KEY
);
INSERT INTO caseledger_schema (version) VALUES (1) ON CONFLICT DO NOTHING;
