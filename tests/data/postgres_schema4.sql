-- caseledger schema 4, as 0.1.x after issue 19 created it: the fixture of the 4-to-5 migration test.
-- PgStore::migrate runs this under an advisory lock, so two nodes starting at once
-- do not race; every statement is idempotent.

-- Every event of every case. `body` is the event's JSON exactly as encoded
-- (text, not jsonb: jsonb reorders keys and refuses the escape \u0000).
CREATE TABLE IF NOT EXISTS caseledger_events (
    position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction.
    tx       xid8   NOT NULL DEFAULT pg_current_xact_id(),
    -- The feed's order: the greater of `tx` and the case's previous event's `feed_tx`,
    -- so each case's events come out in sequence order; the feed reads only rows whose
    -- `feed_tx` is below the oldest transaction still running.
    feed_tx  xid8   NOT NULL,
    case_id  uuid   NOT NULL,
    seq      bigint NOT NULL CHECK (seq >= 1),
    event_id uuid   NOT NULL,
    kind     text   NOT NULL,
    body     text   NOT NULL,
    CONSTRAINT caseledger_events_case_seq UNIQUE (case_id, seq),
    CONSTRAINT caseledger_events_case_event UNIQUE (case_id, event_id)
);

-- Schema 1 to 2: the feed orders by `feed_tx`. Rows stored before it get the running
-- greatest `tx` of their case, so old rows too come out in case order. Runs once: only
-- while the column is missing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                   WHERE attrelid = 'caseledger_events'::regclass AND attname = 'feed_tx' AND NOT attisdropped) THEN
        ALTER TABLE caseledger_events ADD COLUMN feed_tx xid8;
        UPDATE caseledger_events AS e SET feed_tx = o.feed_tx
        FROM (
            SELECT position,
                   (max(tx::text::numeric) OVER (PARTITION BY case_id ORDER BY seq))::text::xid8 AS feed_tx
            FROM caseledger_events
        ) AS o
        WHERE o.position = e.position;
        ALTER TABLE caseledger_events ALTER COLUMN feed_tx SET NOT NULL;
    END IF;
END
$$;
DROP INDEX IF EXISTS caseledger_events_feed;
CREATE INDEX IF NOT EXISTS caseledger_events_feed_order ON caseledger_events (feed_tx, position);

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

-- Schema 3: where each feed projection stands (caseledger::projection::PgRunner). The
-- runner moves its row in the same transaction as the projection's own rows.
CREATE TABLE IF NOT EXISTS caseledger_checkpoints (
    name     text PRIMARY KEY,
    -- A FeedPosition as text.
    position text NOT NULL
);

-- Schema 4: each case's latest snapshot (caseledger::case::Snapshot): its folded state
-- at `version`, opaque bytes the library checks before using. A cache of the log:
-- removing rows loses nothing (cold loads then fold from the first event).
CREATE TABLE IF NOT EXISTS caseledger_snapshots (
    case_id uuid   PRIMARY KEY,
    version bigint NOT NULL CHECK (version >= 1),
    body    bytea  NOT NULL
);

CREATE TABLE IF NOT EXISTS caseledger_schema (
    version integer PRIMARY KEY
);
INSERT INTO caseledger_schema (version) VALUES (1), (2), (3), (4) ON CONFLICT DO NOTHING;
