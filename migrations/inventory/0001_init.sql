-- Inventory: stock per SKU, reservations with expiry, and the movements ledger.
-- Invariant per SKU: sum of restock + adjust movements = available + reserved + committed, none negative.

CREATE TABLE stock_items (
  sku text PRIMARY KEY,
  available integer NOT NULL DEFAULT 0 CHECK (available >= 0),
  reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  committed integer NOT NULL DEFAULT 0 CHECK (committed >= 0),
  -- Optimistic-locking guard: every write says which version it read and bumps it.
  version bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reservations (
  id text PRIMARY KEY,
  order_id text NOT NULL,
  status text NOT NULL CHECK (status IN ('reserved', 'released', 'committed')),
  lines jsonb NOT NULL,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The sweeper only ever looks for live reservations past their expiry.
CREATE INDEX reservations_expiring ON reservations (expires_at) WHERE status = 'reserved';
CREATE INDEX reservations_order ON reservations (order_id);

CREATE TABLE stock_movements (
  id bigserial PRIMARY KEY,
  sku text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('restock', 'adjust', 'reserve', 'release', 'commit', 'expire')),
  -- Signed for adjust, positive otherwise.
  quantity integer NOT NULL,
  -- The restock, adjustment or reservation id the movement belongs to.
  reference text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- A replayed restock or adjustment (same id) cannot be booked twice.
  UNIQUE (kind, reference, sku)
);

CREATE INDEX stock_movements_sku ON stock_movements (sku);
