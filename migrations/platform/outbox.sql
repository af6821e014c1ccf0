-- Transactional outbox (src/events/outbox.ts), in every service database; applied by the platform at each
-- start (src/postgres.ts), before the service's own migrations. Rows are written in the same statement or
-- transaction as the state change they describe and published to Kafka by the relay, in id order, then
-- marked published.
CREATE TABLE IF NOT EXISTS outbox (
  id            bigserial   PRIMARY KEY,
  event_id      uuid        NOT NULL UNIQUE,
  event_type    text        NOT NULL,
  event_version integer     NOT NULL,
  topic         text        NOT NULL,
  -- Kafka message key: the aggregate id, so one aggregate's events land on one partition in order.
  event_key     text        NOT NULL,
  envelope      jsonb       NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz
);

-- The relay only ever looks for what is still unpublished; this index stays as small as the backlog.
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
