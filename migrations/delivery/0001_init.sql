-- Delivery: zones, time slots with a capacity, and one shipment per order.
-- Invariant per slot: booked = number of its shipments that are booked or shipped, 0 <= booked <= capacity.

CREATE TABLE zones (
  id text PRIMARY KEY,
  name text NOT NULL,
  -- An empty list serves every postal code.
  postal_code_prefixes text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE slots (
  id text PRIMARY KEY,
  zone_id text NOT NULL REFERENCES zones (id),
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  capacity integer NOT NULL CHECK (capacity >= 0),
  -- Raised only by `booked = booked + 1 WHERE booked < capacity`; the CHECK is the backstop.
  booked integer NOT NULL DEFAULT 0 CHECK (booked >= 0 AND booked <= capacity),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at)
);

CREATE INDEX slots_zone_start ON slots (zone_id, starts_at);

CREATE TABLE shipments (
  id text PRIMARY KEY,
  -- One shipment per order: the idempotency of BookSlot.
  order_id text NOT NULL UNIQUE,
  slot_id text NOT NULL REFERENCES slots (id),
  address jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('booked', 'cancelled', 'shipped')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX shipments_slot ON shipments (slot_id);
