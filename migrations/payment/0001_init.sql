-- Payments: one row per charge idempotency key, inserted `pending` before the provider is asked, so a
-- racing duplicate of the key finds the row (or waits on its unique index) instead of charging again.
CREATE TABLE payments (
  id text PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  order_id text NOT NULL,
  customer text NOT NULL,
  amount bigint NOT NULL CHECK (amount >= 0),
  currency text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'captured', 'declined')),
  decline_reason text,
  provider_reference text,
  -- The backstop of "a refund never exceeds the capture"; the refund's conditional UPDATE is the guard.
  refunded bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
  -- Whoever drives a pending payment holds it until then; past it, a retry of the key may take over
  -- (the driver died between inserting the row and recording the provider's answer).
  lease_until timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (refunded = 0 OR status = 'captured')
);

CREATE INDEX payments_order ON payments (order_id, created_at DESC);

-- Refunds: one row per refund idempotency key, written in the same transaction that raises `refunded`.
CREATE TABLE refunds (
  id text PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  payment_id text NOT NULL REFERENCES payments (id),
  -- What the request named (payment or order) and asked, to tell a repeat from a reuse of the key.
  requested_payment_id text,
  requested_order_id text,
  requested_amount bigint,
  amount bigint NOT NULL CHECK (amount > 0),
  currency text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'refunded')),
  provider_reference text,
  lease_until timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX refunds_payment ON refunds (payment_id);

-- The provider ledger: every answer of the provider, append-only.
CREATE TABLE transactions (
  id bigserial PRIMARY KEY,
  payment_id text NOT NULL REFERENCES payments (id),
  refund_id text REFERENCES refunds (id),
  kind text NOT NULL CHECK (kind IN ('capture', 'decline', 'refund')),
  amount bigint NOT NULL,
  currency text NOT NULL,
  provider_reference text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- A provider answer is recorded once, even when a takeover re-asks the provider.
  UNIQUE (payment_id, kind, provider_reference)
);
