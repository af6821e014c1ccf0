-- cm_guard(ok, what): lets a write of several parts be ONE statement instead of a transaction. When a
-- guarded part finds fewer rows than it expected (another process wrote them since they were read), it
-- raises CMG01 with `what` and the whole statement rolls back (src/postgres.ts, guardFailureOf).
CREATE OR REPLACE FUNCTION cm_guard(ok boolean, what text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF NOT ok THEN
    RAISE EXCEPTION USING ERRCODE = 'CMG01', MESSAGE = what;
  END IF;
  RETURN true;
END
$$;
