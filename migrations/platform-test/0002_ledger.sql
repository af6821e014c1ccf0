-- Test-only state table: the "state change" the outbox tests commit together with their events.
CREATE TABLE ledger_entries (
  id         uuid        PRIMARY KEY,
  account    text        NOT NULL,
  amount     integer     NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
