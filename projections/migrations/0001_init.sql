-- kam read model, schema 1. Units: money is INTEGER minor units of the
-- policy's currency (cents for USD); times are TEXT, UTC, fixed width
-- 'YYYY-MM-DDTHH:MM:SS.mmmZ' (they sort as text); days are 'YYYY-MM-DD'.
-- Scores are INTEGER basis points: 7250 means 72.50 out of 100.

-- One row: how far the projector got, and under which policy.
CREATE TABLE projector_state (
  id               INTEGER PRIMARY KEY CHECK (id = 1),
  stream           TEXT    NOT NULL,
  applied_seq      INTEGER NOT NULL,  -- last stream sequence applied or set aside
  watermark        TEXT,              -- greatest event time applied
  next_review_day  TEXT,              -- the day whose close is the next review
  last_review_day  TEXT,              -- the last day reviewed
  policy           TEXT    NOT NULL,  -- policy version: SHA-256 of its canonical JSON
  policy_json      TEXT    NOT NULL,
  events_applied   INTEGER NOT NULL,
  rejected         INTEGER NOT NULL,
  amount_total     INTEGER NOT NULL   -- sum of all order and return amounts applied (kept below 2^62)
);

-- Every account any applied event names.
CREATE TABLE accounts (
  account                     TEXT PRIMARY KEY,
  name                        TEXT,
  industry                    TEXT,
  region                      TEXT,
  manager                     TEXT,
  partnership                 TEXT NOT NULL,  -- none, interested, strategic (a visit may raise none to interested)
  service_requirement         TEXT NOT NULL,  -- standard, elevated, critical
  registered_at               TEXT,
  first_seen_at               TEXT NOT NULL,  -- time of its first applied event
  first_seq                   INTEGER NOT NULL,
  last_seq                    INTEGER NOT NULL,
  events                      INTEGER NOT NULL,
  first_order_at              TEXT,
  last_order_at               TEXT,
  orders_total                INTEGER NOT NULL,  -- order.placed events, all time
  returns_total               INTEGER NOT NULL,  -- order.returned events, all time
  revenue_total               INTEGER NOT NULL,  -- placed minus returned, all time
  last_competitor_purchase_at TEXT,
  -- as of the last review (the figures its tier was decided on):
  revenue_window              INTEGER NOT NULL,
  orders_window               INTEGER NOT NULL,
  discounted_window           INTEGER NOT NULL,
  new_product_orders_window   INTEGER NOT NULL,
  prior_orders                INTEGER NOT NULL,
  tier                        TEXT,            -- NULL until the first review
  tier_since                  TEXT,
  tier_rank                   INTEGER,         -- NULL when not ranked (revenue <= 0)
  key_account                 INTEGER NOT NULL,
  key_since                   TEXT,
  key_score                   INTEGER,         -- basis points
  score_volume                INTEGER,
  score_concentration         INTEGER,
  score_service_requirement   INTEGER,
  score_price_insensitivity   INTEGER,
  score_partnership           INTEGER,
  loyalty                     TEXT,            -- NULL while the account has no order
  loyalty_since               TEXT,
  early_adopter               INTEGER NOT NULL
) WITHOUT ROWID;

-- The events that moved each kind of an account's decisions since its last
-- change, for its next history row: JSON {"tier"|"key"|"loyalty":
-- {"count": N, "ids": [...], "seqs": [...]}}, the latest 20 of each.
CREATE TABLE account_movers (
  account  TEXT PRIMARY KEY,
  movers   TEXT NOT NULL
) WITHOUT ROWID;

-- Revenue and orders per account and business day: the windows' inputs.
CREATE TABLE account_days (
  account             TEXT    NOT NULL,
  day                 TEXT    NOT NULL,
  revenue             INTEGER NOT NULL,  -- placed minus returned
  discounted          INTEGER NOT NULL,  -- placed at the discount threshold or above
  orders              INTEGER NOT NULL,
  returns             INTEGER NOT NULL,
  new_product_orders  INTEGER NOT NULL,
  PRIMARY KEY (account, day)
) WITHOUT ROWID;

-- One row per day close reviewed.
CREATE TABLE reviews (
  day             TEXT PRIMARY KEY,
  effective       TEXT    NOT NULL,  -- the close of day
  policy          TEXT    NOT NULL,
  accounts        INTEGER NOT NULL,
  ranked          INTEGER NOT NULL,
  total_revenue   INTEGER NOT NULL,
  a_accounts      INTEGER NOT NULL,
  a_revenue       INTEGER NOT NULL,
  b_accounts      INTEGER NOT NULL,
  b_revenue       INTEGER NOT NULL,
  c_accounts      INTEGER NOT NULL,
  c_revenue       INTEGER NOT NULL,
  key_accounts    INTEGER NOT NULL,
  top20_revenue   INTEGER NOT NULL,  -- revenue of the top ceil(ranked/5) accounts
  pareto          TEXT    NOT NULL,  -- JSON [[share of accounts, share of revenue], ...]
  close_seq       INTEGER NOT NULL,
  close_event_id  TEXT    NOT NULL
) WITHOUT ROWID;

-- Every change of an account's tier, with the figures that decided it.
CREATE TABLE tier_history (
  account         TEXT    NOT NULL,
  effective       TEXT    NOT NULL,  -- the close of the day reviewed
  from_tier       TEXT,              -- NULL at the first review
  to_tier         TEXT    NOT NULL,
  policy          TEXT    NOT NULL,
  revenue         INTEGER NOT NULL,  -- window revenue
  rank            INTEGER,           -- NULL when not ranked
  ranked          INTEGER NOT NULL,  -- accounts ranked
  before_revenue  INTEGER NOT NULL,  -- revenue of the accounts ranked above
  total_revenue   INTEGER NOT NULL,
  window_days     INTEGER NOT NULL,
  cut_a           INTEGER NOT NULL,
  cut_b           INTEGER NOT NULL,
  close_seq       INTEGER NOT NULL,  -- the event whose time closed the day
  close_event_id  TEXT    NOT NULL,
  moved_count     INTEGER NOT NULL,  -- the account's revenue events since its previous change
  moved_ids       TEXT    NOT NULL,  -- JSON array, the latest 20 of them
  moved_seqs      TEXT    NOT NULL,  -- JSON array, their stream sequences
  PRIMARY KEY (account, effective)
) WITHOUT ROWID;

-- Every change of an account's key-account flag, with its score.
CREATE TABLE key_history (
  account                    TEXT    NOT NULL,
  effective                  TEXT    NOT NULL,
  from_key                   INTEGER,          -- NULL at the first review
  to_key                     INTEGER NOT NULL,
  policy                     TEXT    NOT NULL,
  tier                       TEXT    NOT NULL,
  score                      INTEGER NOT NULL, -- basis points
  min_score                  INTEGER NOT NULL, -- basis points
  score_volume               INTEGER NOT NULL,
  score_concentration        INTEGER NOT NULL,
  score_service_requirement  INTEGER NOT NULL,
  score_price_insensitivity  INTEGER NOT NULL,
  score_partnership          INTEGER NOT NULL,
  revenue                    INTEGER NOT NULL,
  orders                     INTEGER NOT NULL,
  discounted                 INTEGER NOT NULL,
  service_requirement        TEXT    NOT NULL,
  partnership                TEXT    NOT NULL,
  close_seq                  INTEGER NOT NULL,
  close_event_id             TEXT    NOT NULL,
  moved_count                INTEGER NOT NULL, -- the account's orders, returns and profile changes since the previous change
  moved_ids                  TEXT    NOT NULL, -- JSON array, the latest 20 of them
  moved_seqs                 TEXT    NOT NULL,
  PRIMARY KEY (account, effective)
) WITHOUT ROWID;

-- Every change of an account's loyalty status or early-adopter flag.
CREATE TABLE loyalty_history (
  account                      TEXT    NOT NULL,
  effective                    TEXT    NOT NULL,
  from_loyalty                 TEXT,             -- NULL at the first decision
  to_loyalty                   TEXT    NOT NULL,
  from_early_adopter           INTEGER,
  to_early_adopter             INTEGER NOT NULL,
  policy                       TEXT    NOT NULL,
  reason                       TEXT    NOT NULL,
  orders_window                INTEGER NOT NULL,
  revenue_window               INTEGER NOT NULL,
  discounted_window            INTEGER NOT NULL,
  prior_orders                 INTEGER NOT NULL,
  first_order_at               TEXT,
  last_competitor_purchase_at  TEXT,
  close_seq                    INTEGER NOT NULL,
  close_event_id               TEXT    NOT NULL,
  moved_count                  INTEGER NOT NULL, -- the account's orders, returns and competitor reports since the previous change
  moved_ids                    TEXT    NOT NULL,
  moved_seqs                   TEXT    NOT NULL,
  PRIMARY KEY (account, effective)
) WITHOUT ROWID;

-- Service requests and complaints with their targets and outcomes.
CREATE TABLE sla_items (
  account           TEXT    NOT NULL,
  kind              TEXT    NOT NULL,  -- request or complaint
  item_id           TEXT    NOT NULL,
  priority          TEXT,              -- request priority, or complaint severity
  opened_at         TEXT,              -- NULL while only a later step is known
  opened_seq        INTEGER,
  tier              TEXT,              -- tier in force at opening (C when none yet)
  key_account       INTEGER,           -- key account at opening
  target_column     TEXT,              -- A, B, C or key
  response_due      TEXT,              -- requests only
  resolution_due    TEXT,
  responded_at      TEXT,              -- first response (a resolution counts as one)
  resolved_at       TEXT,
  response_met      INTEGER,           -- 1 met, 0 breached, NULL not yet answered
  resolution_met    INTEGER,
  response_seconds  INTEGER,
  resolution_seconds INTEGER,
  satisfied         INTEGER,           -- complaints: the customer's verdict, if given
  PRIMARY KEY (account, kind, item_id)
) WITHOUT ROWID;

-- Who was visited at each account, by role.
CREATE TABLE contacts (
  account         TEXT    NOT NULL,
  role            TEXT    NOT NULL,
  name            TEXT    NOT NULL,
  visits          INTEGER NOT NULL,
  first_visit_at  TEXT    NOT NULL,
  last_visit_at   TEXT    NOT NULL,
  PRIMARY KEY (account, role, name)
) WITHOUT ROWID;

-- Messages of the stream set aside: invalid, from the future, or a duplicate id.
CREATE TABLE rejected_events (
  seq        INTEGER PRIMARY KEY,
  subject    TEXT NOT NULL,
  event_id   TEXT,
  type       TEXT,
  stored_at  TEXT NOT NULL,
  reason     TEXT NOT NULL
);

-- Tamper evidence: a hash chain per account over every message on its
-- subjects, in stream order: link 0 is 32 zero bytes, link n =
-- SHA-256(link n-1 || SHA-256(message n's bytes as stored)). Since rules 4
-- each message's digest also covers its sequence and subject, and the
-- clock ticks have a chain: see docs/read-model.md.
-- kam verify --chain recomputes it from the stream.
CREATE TABLE chains (
  token     TEXT PRIMARY KEY,  -- the account's subject token
  account   TEXT    NOT NULL,  -- the account id (the token itself if it is not one kam makes)
  length    INTEGER NOT NULL,
  head      TEXT    NOT NULL,  -- hex
  last_seq  INTEGER NOT NULL
) WITHOUT ROWID;

-- The ids applied, for exactly-once: a compact ledger that kam loads at
-- start. Block b holds the events with sequence b*256 to b*256+255, in order,
-- each as the first 16 bytes of SHA-256(id) then the 8-byte big-endian seq.
CREATE TABLE applied_ids (
  block    INTEGER PRIMARY KEY,
  entries  BLOB NOT NULL
);
