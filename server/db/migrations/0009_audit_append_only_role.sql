-- TRUNCATE fires no row trigger: refuse it as well, so no role short of one that first disables the
-- trigger (the table's owner or a superuser; the audit checkpoints detect that) can empty the log.
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON "audit_log"
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
--> statement-breakpoint
-- Only the owner of request_logs may add partitions. An app role that does not own the tables calls
-- this instead: it runs as its owner and can do nothing but create one day's partition.
CREATE OR REPLACE FUNCTION enclave_request_log_partition(day date) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  EXECUTE format(
    'CREATE TABLE IF NOT EXISTS %I PARTITION OF request_logs FOR VALUES FROM (%L) TO (%L)',
    'request_logs_' || to_char(day, 'YYYYMMDD'),
    day::timestamp AT TIME ZONE 'UTC',
    (day + 1)::timestamp AT TIME ZONE 'UTC'
  );
END;
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION enclave_request_log_partition(date) FROM PUBLIC;
