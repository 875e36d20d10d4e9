-- Restore drills (server/operations/backup/): one row per drill, written by the process running it
-- (progress, then the result). A drill whose runner vanished is failed by the next reader once its
-- heartbeat is older than two minutes. No foreign key on the backup: backups live in files.
CREATE TABLE "backup_drills" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"backup_id" text NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"phase" text DEFAULT 'starting' NOT NULL,
	"progress" real DEFAULT 0 NOT NULL,
	"started_by" uuid,
	"result" jsonb,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"heartbeat_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "backup_drills_status_check" CHECK ("status" IN ('running', 'passed', 'failed'))
);
--> statement-breakpoint
ALTER TABLE "backup_drills" ADD CONSTRAINT "backup_drills_started_by_users_id_fk" FOREIGN KEY ("started_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "backup_drills_created_idx" ON "backup_drills" USING btree ("created_at");
