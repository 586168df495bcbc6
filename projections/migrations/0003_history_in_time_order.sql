-- kam read model, schema 3: the history tables are keyed by (effective,
-- account), with an index on (account, effective) for an account's history.
-- Reviews add history rows in time order, so new rows now land at the end of
-- each table, where the key (account, effective) scattered them over all its
-- pages: a replay of 1M events wrote its 319k history rows at 18 - 27 µs
-- each, and the table's every page again with each batch.
DROP VIEW v_tier_changes;

CREATE TABLE tier_history_3 (
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
  PRIMARY KEY (effective, account)
) WITHOUT ROWID;
INSERT INTO tier_history_3 SELECT * FROM tier_history;
DROP TABLE tier_history;
ALTER TABLE tier_history_3 RENAME TO tier_history;
CREATE INDEX tier_history_by_account ON tier_history (account, effective);

CREATE TABLE key_history_3 (
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
  PRIMARY KEY (effective, account)
) WITHOUT ROWID;
INSERT INTO key_history_3 SELECT * FROM key_history;
DROP TABLE key_history;
ALTER TABLE key_history_3 RENAME TO key_history;
CREATE INDEX key_history_by_account ON key_history (account, effective);

CREATE TABLE loyalty_history_3 (
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
  PRIMARY KEY (effective, account)
) WITHOUT ROWID;
INSERT INTO loyalty_history_3 SELECT * FROM loyalty_history;
DROP TABLE loyalty_history;
ALTER TABLE loyalty_history_3 RENAME TO loyalty_history;
CREATE INDEX loyalty_history_by_account ON loyalty_history (account, effective);

-- Every tier change with what decided it, newest first.
CREATE VIEW v_tier_changes AS
SELECT effective, account, from_tier, to_tier, revenue, rank, ranked, before_revenue, total_revenue,
       round(100.0 * before_revenue / nullif(total_revenue, 0), 2) AS pct_above,
       close_seq, close_event_id, moved_count, policy
FROM tier_history
ORDER BY effective DESC, account;
