-- An order refunded before any charge of it arrived is voided: a charge that reaches us later (one that
-- was still in flight when the checkout saga gave up on it) is declined instead of captured.
CREATE TABLE order_voids (
  order_id   text        PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now()
);
