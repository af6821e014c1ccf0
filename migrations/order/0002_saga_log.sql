-- The saga log tables (src/saga-log-postgres.ts); every service that runs sagas has this migration.
CREATE TABLE saga_instances (
  id text PRIMARY KEY,
  name text NOT NULL,
  input jsonb NOT NULL,
  state text NOT NULL CHECK (state IN ('running', 'compensating', 'completed', 'failed')),
  failure jsonb,
  deadline timestamptz NOT NULL,
  lease_owner text,
  lease_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX saga_instances_active ON saga_instances (created_at) WHERE state IN ('running', 'compensating');
CREATE TABLE saga_steps (
  saga_id text NOT NULL REFERENCES saga_instances (id),
  step text NOT NULL,
  action text NOT NULL CHECK (action IN ('started', 'completed', 'failed')),
  result jsonb,
  compensated boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (saga_id, step)
);
