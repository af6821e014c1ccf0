-- Carts: one active cart per user; its lines keep the price the catalog gave when they were last touched;
-- and the replies to the checkout saga's commands, which make every command idempotent by order id.

CREATE TABLE carts (
  id text PRIMARY KEY,
  user_id text NOT NULL,
  -- open: editable. frozen: reserved for order_id by the saga. checked_out: the order was confirmed; the
  -- row and its lines stay as a record, and the user's next cart is a new row.
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'frozen', 'checked_out')),
  order_id text,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'open') = (order_id IS NULL))
);

-- One active cart per user; also the conflict target of the get-or-create insert.
CREATE UNIQUE INDEX carts_active_user ON carts (user_id) WHERE status <> 'checked_out';

CREATE TABLE cart_items (
  cart_id text NOT NULL REFERENCES carts (id),
  sku text NOT NULL,
  product_id text NOT NULL,
  name text NOT NULL,
  unit_amount bigint NOT NULL CHECK (unit_amount >= 0),
  currency text NOT NULL,
  quantity integer NOT NULL CHECK (quantity > 0),
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (cart_id, sku)
);

-- The first decisive reply to each (order, command): a repeated command answers from here.
CREATE TABLE cart_command_replies (
  order_id text NOT NULL,
  command text NOT NULL,
  reply jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id, command)
);
