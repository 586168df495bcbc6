-- Views for the common questions, so that `sqlite3 kam-data/kam.db` is a
-- useful tool in itself. Money stays in minor units (divide by 100 for USD).

-- Accounts with their current decisions, largest window revenue first.
CREATE VIEW v_accounts AS
SELECT account, name, region, manager, tier, tier_rank, key_account,
       key_score / 100.0 AS key_score, loyalty, early_adopter,
       revenue_window, orders_window, revenue_total, orders_total, tier_since, loyalty_since
FROM accounts
ORDER BY revenue_window DESC, account;

-- Every tier change with what decided it, newest first.
CREATE VIEW v_tier_changes AS
SELECT effective, account, from_tier, to_tier, revenue, rank, ranked, before_revenue, total_revenue,
       round(100.0 * before_revenue / nullif(total_revenue, 0), 2) AS pct_above,
       close_seq, close_event_id, moved_count, policy
FROM tier_history
ORDER BY effective DESC, account;

-- The ABC split of every day reviewed.
CREATE VIEW v_abc_by_day AS
SELECT day, accounts, ranked, total_revenue,
       a_accounts, a_revenue, round(1.0 * a_revenue / nullif(total_revenue, 0), 4) AS a_share,
       b_accounts, b_revenue, c_accounts, c_revenue, key_accounts,
       round(1.0 * top20_revenue / nullif(total_revenue, 0), 4) AS top20_share
FROM reviews
ORDER BY day;

-- Service levels by the tier at opening: items, still open, met, breached.
CREATE VIEW v_sla_by_tier AS
SELECT tier, kind,
       count(*) AS opened,
       sum(resolved_at IS NULL) AS open,
       sum(response_met = 1) AS response_met,
       sum(response_met = 0) AS response_breached,
       round(1.0 * sum(response_met = 1) / nullif(sum(response_met IS NOT NULL), 0), 4) AS response_compliance,
       sum(resolution_met = 1) AS resolution_met,
       sum(resolution_met = 0) AS resolution_breached,
       round(1.0 * sum(resolution_met = 1) / nullif(sum(resolution_met IS NOT NULL), 0), 4) AS resolution_compliance,
       round(avg(resolution_seconds) / 3600.0, 2) AS avg_resolution_hours
FROM sla_items
WHERE opened_at IS NOT NULL
GROUP BY tier, kind
ORDER BY tier, kind;

-- The same per account.
CREATE VIEW v_sla_by_account AS
SELECT account, kind, count(*) AS opened, sum(resolved_at IS NULL) AS open,
       sum(response_met = 1) AS response_met, sum(response_met = 0) AS response_breached,
       sum(resolution_met = 1) AS resolution_met, sum(resolution_met = 0) AS resolution_breached
FROM sla_items
WHERE opened_at IS NOT NULL
GROUP BY account, kind;

-- Relationship coverage: each account's decision makers and the days since
-- their last visit, as of the watermark (the latest business time applied).
CREATE VIEW v_coverage AS
SELECT c.account, c.name AS decision_maker, c.visits, c.last_visit_at,
       CAST(julianday(s.watermark) - julianday(c.last_visit_at) AS INTEGER) AS days_since_visit,
       julianday(s.watermark) - julianday(c.last_visit_at) >= 90 AS stale
FROM contacts c, projector_state s
WHERE c.role = 'decision_maker'
ORDER BY days_since_visit DESC;

-- Revenue per account and month.
CREATE VIEW v_revenue_monthly AS
SELECT account, substr(day, 1, 7) AS month, sum(revenue) AS revenue, sum(orders) AS orders, sum(returns) AS returns
FROM account_days
GROUP BY account, month;
