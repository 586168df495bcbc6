-- kam read model, schema 6.
--
-- account_days keeps, beside each business day, the day of the first
-- review that counted it (known_from). An event that arrives late (its day
-- already reviewed) counts from the next review on; kept apart, the figures
-- as of a past moment are those the reviews of the time saw, not the late
-- events that came in after them. Rows of a model made before this schema
-- get known_from = day (kam refuses to continue such a model anyway: its
-- rules version is older, see RulesVersion).
CREATE TABLE account_days_known (
  account             TEXT    NOT NULL,
  day                 TEXT    NOT NULL,
  known_from          TEXT    NOT NULL,  -- the first review day that counted these events (day, or later for late events)
  revenue             INTEGER NOT NULL,  -- placed minus returned
  discounted          INTEGER NOT NULL,  -- placed at the discount threshold or above
  orders              INTEGER NOT NULL,
  returns             INTEGER NOT NULL,
  new_product_orders  INTEGER NOT NULL,
  PRIMARY KEY (account, day, known_from)
) WITHOUT ROWID;
INSERT INTO account_days_known
SELECT account, day, day, revenue, discounted, orders, returns, new_product_orders FROM account_days;
DROP VIEW v_revenue_monthly;
DROP TABLE account_days;
ALTER TABLE account_days_known RENAME TO account_days;

-- Revenue per account and month.
CREATE VIEW v_revenue_monthly AS
SELECT account, substr(day, 1, 7) AS month, sum(revenue) AS revenue, sum(orders) AS orders, sum(returns) AS returns
FROM account_days
GROUP BY account, month;

-- Relationship coverage: each account's decision makers and the days since
-- their last visit, as of the watermark (the latest business time applied;
-- the HTTP API counts to the moment asked, or now). Stale when the last
-- visit lies more than the policy's coverage.decision_maker_days before
-- (90 by default): a visit exactly that many days before still counts.
DROP VIEW v_coverage;
CREATE VIEW v_coverage AS
SELECT c.account, c.name AS decision_maker, c.visits, c.last_visit_at,
       CAST(julianday(s.watermark) - julianday(c.last_visit_at) AS INTEGER) AS days_since_visit,
       julianday(s.watermark) - julianday(c.last_visit_at) > json_extract(s.policy_json, '$.coverage.decision_maker_days') AS stale
FROM contacts c, projector_state s
WHERE c.role = 'decision_maker'
ORDER BY days_since_visit DESC;
