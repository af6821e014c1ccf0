ALTER TABLE widgets ADD COLUMN version integer NOT NULL DEFAULT 0;
CREATE INDEX widgets_quantity_idx ON widgets (quantity);
