-- caseledger schema 5 (PostgreSQL 13 or later: the feed uses xid8).
-- PgStore::migrate runs this under an advisory lock, so two nodes starting at once
-- do not race; every statement is idempotent.

-- Every event of every case. `body` is the event's JSON exactly as encoded
-- (text, not jsonb: jsonb reorders keys and refuses the escape \u0000).
-- The key is the feed's order, (feed_tx, position): one index serves the feed's reads and
-- is the table's primary key (schema 5; before it, `position` alone was the key and the
-- feed had an index of its own, one more index to maintain on every insert).
CREATE TABLE IF NOT EXISTS caseledger_events (
    -- Taken at insert, never reused (the identity's sequence); unique in the feed's key.
    position bigint GENERATED ALWAYS AS IDENTITY,
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
    CONSTRAINT caseledger_events_pkey PRIMARY KEY (feed_tx, position),
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

-- Schema 4 to 5: the feed's index becomes the primary key, and the key on `position`
-- alone goes (the feed reads by (feed_tx, position), nothing looks a row up by
-- `position` alone). Runs once: only while the primary key is the one-column one, as
-- schemas 1 to 4 created it. (The 1-to-2 step above runs first, on the old key.) The
-- table is locked while the new key is built: as long as an index build on it takes.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index
               WHERE indrelid = 'caseledger_events'::regclass AND indisprimary AND indnatts = 1) THEN
        ALTER TABLE caseledger_events DROP CONSTRAINT caseledger_events_pkey;
        DROP INDEX IF EXISTS caseledger_events_feed_order;
        ALTER TABLE caseledger_events ADD CONSTRAINT caseledger_events_pkey PRIMARY KEY (feed_tx, position);
    END IF;
END
$$;

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
INSERT INTO caseledger_schema (version) VALUES (1), (2), (3), (4), (5) ON CONFLICT DO NOTHING;
