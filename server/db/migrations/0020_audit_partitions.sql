-- audit_log becomes a table partitioned by month on "at", so rows past retention leave by dropping a
-- month (after its export, server/security/audit-archive.ts) instead of a DELETE the trigger refuses.
-- Every row is copied as it is (ids, times, hashes), so the chain verifies exactly as before.
ALTER TABLE "audit_log" RENAME TO "audit_log_unpartitioned";
--> statement-breakpoint
ALTER INDEX "audit_log_pkey" RENAME TO "audit_log_unpartitioned_pkey";
--> statement-breakpoint
DROP INDEX "audit_log_actor_idx";
--> statement-breakpoint
DROP INDEX "audit_log_action_idx";
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" bigint DEFAULT nextval('audit_log_id_seq'::regclass) NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor_user_id" uuid,
	"actor_label" text,
	"action" text NOT NULL,
	"target" text,
	"client_address" text,
	"outcome" text NOT NULL,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL,
	CONSTRAINT "audit_log_id_at_pk" PRIMARY KEY ("id", "at")
) PARTITION BY RANGE ("at");
--> statement-breakpoint
ALTER SEQUENCE "audit_log_id_seq" OWNED BY "audit_log"."id";
--> statement-breakpoint
-- Rows outside every monthly partition land here rather than failing the insert (and the mutation it audits).
CREATE TABLE "audit_log_default" PARTITION OF "audit_log" DEFAULT;
--> statement-breakpoint
-- Keyset paging of the audit page runs newest first by id within each filter.
CREATE INDEX "audit_log_actor_idx" ON "audit_log" USING btree ("actor_user_id", "id");
--> statement-breakpoint
CREATE INDEX "audit_log_action_idx" ON "audit_log" USING btree ("action", "id");
--> statement-breakpoint
CREATE INDEX "audit_log_target_idx" ON "audit_log" USING btree ("target", "id");
--> statement-breakpoint
CREATE INDEX "audit_log_outcome_idx" ON "audit_log" USING btree ("outcome", "id");
--> statement-breakpoint
-- Only the owner may add partitions. The app role calls this instead: it runs as the owner and can do
-- nothing but create one month's partition, with the TRUNCATE refusal a partition does not inherit.
CREATE OR REPLACE FUNCTION enclave_audit_log_partition(month date) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  first date := date_trunc('month', month)::date;
  name text := 'audit_log_' || to_char(date_trunc('month', month), 'YYYYMM');
BEGIN
  IF to_regclass(name) IS NOT NULL THEN RETURN; END IF;
  EXECUTE format('CREATE TABLE %I PARTITION OF audit_log FOR VALUES FROM (%L) TO (%L)', name,
    first::timestamp AT TIME ZONE 'UTC', (first + interval '1 month')::timestamp AT TIME ZONE 'UTC');
  EXECUTE format('CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()', name);
END;
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION enclave_audit_log_partition(date) FROM PUBLIC;
--> statement-breakpoint
-- Dropping a month is the only way rows leave, and the app role may do it only through this: a month
-- that ended at least 180 days ago (the floor no setting lowers), the oldest one left, and only once
-- the chain records its archive (an audit.partition_archived row naming it, written after the export).
CREATE OR REPLACE FUNCTION enclave_audit_log_drop_partition(name text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  upper_bound timestamptz;
  oldest text;
BEGIN
  IF name !~ '^audit_log_[0-9]{6}$' OR to_regclass(name) IS NULL THEN
    RAISE EXCEPTION 'no audit partition %', name;
  END IF;
  upper_bound := (to_date(right(name, 6), 'YYYYMM') + interval '1 month')::timestamp AT TIME ZONE 'UTC';
  IF upper_bound > now() - interval '180 days' THEN
    RAISE EXCEPTION 'audit partition % holds rows younger than 180 days', name;
  END IF;
  SELECT c.relname INTO oldest FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'audit_log'::regclass AND c.relname ~ '^audit_log_[0-9]{6}$' ORDER BY c.relname LIMIT 1;
  IF oldest <> name THEN
    RAISE EXCEPTION 'audit partition % is not the oldest (% is)', name, oldest;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM audit_log WHERE action = 'audit.partition_archived' AND target = name AND outcome = 'success') THEN
    RAISE EXCEPTION 'audit partition % has no archive recorded in the chain', name;
  END IF;
  EXECUTE format('ALTER TABLE audit_log DETACH PARTITION %I', name);
  EXECUTE format('DROP TABLE %I', name);
END;
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION enclave_audit_log_drop_partition(text) FROM PUBLIC;
--> statement-breakpoint
-- A partition for every month the log already spans, and three ahead (the worker keeps three ahead).
DO $$
DECLARE m date;
BEGIN
  FOR m IN SELECT generate_series(
      date_trunc('month', least(coalesce((SELECT min("at") FROM "audit_log_unpartitioned"), now()), now()) AT TIME ZONE 'UTC'),
      date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months', interval '1 month')::date
  LOOP
    PERFORM enclave_audit_log_partition(m);
  END LOOP;
END;
$$;
--> statement-breakpoint
INSERT INTO "audit_log" SELECT "id", "at", "actor_user_id", "actor_label", "action", "target", "client_address", "outcome", "detail", "prev_hash", "hash"
  FROM "audit_log_unpartitioned" ORDER BY "id";
--> statement-breakpoint
DROP TABLE "audit_log_unpartitioned";
--> statement-breakpoint
-- Append-only as before: the row trigger is cloned onto every partition, present and future.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON "audit_log"
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
--> statement-breakpoint
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON "audit_log"
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
--> statement-breakpoint
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON "audit_log_default"
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
--> statement-breakpoint
-- Per hour, per key: the /v1 calls a key made (counts, status classes, models; never content), written
-- to the audit chain by the maintenance worker. This remembers which hours are written.
CREATE TABLE "audit_v1_hours" (
	"hour" timestamp with time zone PRIMARY KEY NOT NULL,
	"keys" integer NOT NULL,
	"written_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
-- Latency of the day's requests for the failure-rate and response-time view: summed, and as a histogram
-- of e2e milliseconds (bounds in server/operations/usage/latency-buckets.ts) from which p50/p95 are read.
ALTER TABLE "usage_daily" ADD COLUMN "e2e_ms_sum" double precision DEFAULT 0 NOT NULL;
--> statement-breakpoint
ALTER TABLE "usage_daily" ADD COLUMN "ttft_ms_sum" double precision DEFAULT 0 NOT NULL;
--> statement-breakpoint
ALTER TABLE "usage_daily" ADD COLUMN "ttft_count" integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
ALTER TABLE "usage_daily" ADD COLUMN "e2e_ms_buckets" integer[] DEFAULT '{}' NOT NULL;
--> statement-breakpoint
-- The audit page's actor filter also matches labels (a key's name, `system`).
CREATE INDEX IF NOT EXISTS "audit_log_actor_label_idx" ON "audit_log" USING btree ("actor_label", "id");
