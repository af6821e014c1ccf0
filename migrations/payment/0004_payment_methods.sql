-- Payment methods: a provider token held for a customer, referred to by id from elsewhere (an order, its
-- checkout saga), so the token is stored here only. A payment names the method it charged.
CREATE TABLE payment_methods (
  id text PRIMARY KEY,
  customer text NOT NULL,
  token text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE payments ADD COLUMN payment_method text;
