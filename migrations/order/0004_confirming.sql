-- Set by the checkout saga's confirm step before it commits the order's stock: from then on CancelOrder
-- refuses the order, since committed stock cannot be released.
ALTER TABLE orders ADD COLUMN confirming boolean NOT NULL DEFAULT false;
