-- kam read model, schema 5: every visit to a contact, so that an account's
-- contacts as of a past moment (visits, last visit, a stale decision maker)
-- are counted from the visits up to it, not guessed from the totals of now.
CREATE TABLE visits (
  account  TEXT    NOT NULL,
  seq      INTEGER NOT NULL,  -- the visit.logged event's stream sequence
  at       TEXT    NOT NULL,  -- its business time
  role     TEXT    NOT NULL,  -- the contact's role ('unspecified' when none was given)
  name     TEXT    NOT NULL,  -- the contact's name ('' when none was given)
  PRIMARY KEY (account, seq)
) WITHOUT ROWID;
