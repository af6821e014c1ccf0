-- Orders and their items. Items (names and prices) are copied from the cart when the checkout saga
-- reserves it, so later catalog changes never rewrite a placed order.
CREATE TABLE orders (
  id              text        PRIMARY KEY,
  user_id         text        NOT NULL,
  -- One order per (user, key): a retried POST /checkout finds the order it already made.
  idempotency_key text        NOT NULL,
  request_hash    text        NOT NULL,
  status          text        NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'FAILED', 'CANCELLED', 'SHIPPED')),
  total_amount    bigint      CHECK (total_amount >= 0),
  currency        text,
  failure         jsonb,
  payment_token   text        NOT NULL,
  address         jsonb       NOT NULL,
  delivery_zone   text        NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, idempotency_key)
);
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC);

CREATE TABLE order_items (
  order_id    text    NOT NULL REFERENCES orders (id),
  sku         text    NOT NULL,
  name        text    NOT NULL,
  quantity    integer NOT NULL CHECK (quantity > 0),
  unit_amount bigint  NOT NULL CHECK (unit_amount >= 0),
  currency    text    NOT NULL,
  PRIMARY KEY (order_id, sku)
);
