-- Analytics: aggregates projected from the domain events of orders, payments, inventory and users.
-- Every table below changes only in the transaction that inserts the event's row into processed_events,
-- so an event delivered twice (a crash before the offset commit, a rebalance) is counted once.

CREATE TABLE processed_events (
  event_id uuid PRIMARY KEY,
  event_type text NOT NULL,
  topic text NOT NULL,
  occurred_at timestamptz NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now()
);

-- Counts per time bucket, kept at two sizes ('minute', 'day') so a range of either is read, not summed
-- from the finest rows. Buckets start on UTC boundaries; an event counts in the bucket of its occurredAt.
CREATE TABLE activity (
  unit text NOT NULL CHECK (unit IN ('minute', 'day')),
  bucket timestamptz NOT NULL,
  orders_created integer NOT NULL DEFAULT 0,
  orders_confirmed integer NOT NULL DEFAULT 0,
  orders_failed integer NOT NULL DEFAULT 0,
  orders_cancelled integer NOT NULL DEFAULT 0,
  payments_captured integer NOT NULL DEFAULT 0,
  payments_declined integer NOT NULL DEFAULT 0,
  new_customers integer NOT NULL DEFAULT 0,
  PRIMARY KEY (unit, bucket)
);

-- Amounts per time bucket and currency, in minor units.
CREATE TABLE money (
  unit text NOT NULL CHECK (unit IN ('minute', 'day')),
  bucket timestamptz NOT NULL,
  currency text NOT NULL,
  revenue bigint NOT NULL DEFAULT 0,
  refunded bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (unit, bucket, currency)
);

-- Lines of confirmed orders per UTC day.
CREATE TABLE product_sales (
  day date NOT NULL,
  sku text NOT NULL,
  currency text NOT NULL,
  units bigint NOT NULL DEFAULT 0,
  orders integer NOT NULL DEFAULT 0,
  revenue bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (day, sku, currency)
);
CREATE INDEX product_sales_by_sku ON product_sales (sku, day);

CREATE TABLE failure_reasons (
  day date NOT NULL,
  step text NOT NULL,
  reason text NOT NULL,
  count integer NOT NULL DEFAULT 0,
  PRIMARY KEY (day, step, reason)
);

-- Units committed by inventory (sold stock) per SKU and UTC day: the velocity behind the forecast.
CREATE TABLE stock_commits (
  day date NOT NULL,
  sku text NOT NULL,
  units bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (day, sku)
);
CREATE INDEX stock_commits_by_sku ON stock_commits (sku, day);
