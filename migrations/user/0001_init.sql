-- Users: accounts with argon2id password hashes and roles; addresses with one default per user.

CREATE TABLE users (
  id text PRIMARY KEY,
  -- Stored as given; unique case-insensitively through the index below.
  email text NOT NULL,
  name text NOT NULL,
  password_hash text NOT NULL,
  roles text[] NOT NULL DEFAULT '{customer}' CHECK (roles <@ ARRAY['customer', 'admin']),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX users_email_lower ON users (lower(email));

CREATE TABLE addresses (
  id text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  label text,
  address jsonb NOT NULL,
  is_default boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX addresses_user ON addresses (user_id, created_at);
-- At most one default per user, whatever the interleaving of concurrent changes.
CREATE UNIQUE INDEX addresses_one_default ON addresses (user_id) WHERE is_default;
