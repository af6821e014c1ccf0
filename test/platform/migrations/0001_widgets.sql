CREATE TABLE widgets (
  id text PRIMARY KEY,
  quantity integer NOT NULL CHECK (quantity >= 0)
);
INSERT INTO widgets (id, quantity) VALUES ('seed', 1);
