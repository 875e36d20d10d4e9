-- Crypto-shredding: each person's content is sealed under data keys of their own (NULL: install content such
-- as upstream keys and webhooks). No cascade: a user row cannot be deleted while a key of theirs remains, so
-- an erasure that forgot a key fails instead of leaving it behind.
ALTER TABLE "data_keys" ADD COLUMN "owner_user_id" uuid;
--> statement-breakpoint
ALTER TABLE "data_keys" ADD CONSTRAINT "data_keys_owner_user_id_users_id_fk" FOREIGN KEY ("owner_user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "data_keys_owner_idx" ON "data_keys" USING btree ("owner_user_id","id");
--> statement-breakpoint
CREATE TABLE "retention_policies" (
	"subject_kind" text NOT NULL,
	"level" smallint NOT NULL,
	"keep_days" integer,
	"updated_by" uuid,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "retention_policies_subject_kind_level_pk" PRIMARY KEY("subject_kind","level"),
	CONSTRAINT "retention_policies_subject_kind" CHECK ("retention_policies"."subject_kind" IN ('conversation', 'dataset')),
	CONSTRAINT "retention_policies_level" CHECK ("retention_policies"."level" BETWEEN 0 AND 3),
	CONSTRAINT "retention_policies_keep_days" CHECK ("retention_policies"."keep_days" IS NULL OR "retention_policies"."keep_days" BETWEEN 1 AND 36500)
);
--> statement-breakpoint
ALTER TABLE "retention_policies" ADD CONSTRAINT "retention_policies_updated_by_users_id_fk" FOREIGN KEY ("updated_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;
--> statement-breakpoint
CREATE TABLE "legal_holds" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"subject_kind" text NOT NULL,
	"subject_id" uuid NOT NULL,
	"reason" text NOT NULL,
	"placed_by" uuid,
	"placed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"lifted_by" uuid,
	"lifted_at" timestamp with time zone,
	CONSTRAINT "legal_holds_subject_kind" CHECK ("legal_holds"."subject_kind" IN ('user', 'conversation')),
	CONSTRAINT "legal_holds_reason" CHECK (length("legal_holds"."reason") BETWEEN 1 AND 500)
);
--> statement-breakpoint
ALTER TABLE "legal_holds" ADD CONSTRAINT "legal_holds_placed_by_users_id_fk" FOREIGN KEY ("placed_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "legal_holds" ADD CONSTRAINT "legal_holds_lifted_by_users_id_fk" FOREIGN KEY ("lifted_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;
--> statement-breakpoint
CREATE UNIQUE INDEX "legal_holds_active_unique" ON "legal_holds" USING btree ("subject_kind","subject_id") WHERE "legal_holds"."lifted_at" IS NULL;
--> statement-breakpoint
-- The backstop under the application's own checks: no path (a cascade, a hand-written DELETE) removes a
-- held user, a held conversation or a held user's conversations or datasets.
CREATE FUNCTION "refuse_deleting_held"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	owner uuid;
BEGIN
	IF TG_TABLE_NAME = 'users' THEN
		owner := OLD.id;
	ELSIF TG_TABLE_NAME = 'conversations' THEN
		owner := OLD.user_id;
		IF EXISTS (SELECT 1 FROM legal_holds WHERE subject_kind = 'conversation' AND subject_id = OLD.id AND lifted_at IS NULL) THEN
			RAISE EXCEPTION 'conversation % is under legal hold', OLD.id USING ERRCODE = 'P0H01';
		END IF;
	ELSE
		owner := OLD.owner_id;
	END IF;
	IF EXISTS (SELECT 1 FROM legal_holds WHERE subject_kind = 'user' AND subject_id = owner AND lifted_at IS NULL) THEN
		RAISE EXCEPTION 'user % is under legal hold', owner USING ERRCODE = 'P0H01';
	END IF;
	RETURN OLD;
END $$;
--> statement-breakpoint
CREATE TRIGGER "users_legal_hold" BEFORE DELETE ON "users" FOR EACH ROW EXECUTE FUNCTION "refuse_deleting_held"();
--> statement-breakpoint
CREATE TRIGGER "conversations_legal_hold" BEFORE DELETE ON "conversations" FOR EACH ROW EXECUTE FUNCTION "refuse_deleting_held"();
--> statement-breakpoint
CREATE TRIGGER "datasets_legal_hold" BEFORE DELETE ON "datasets" FOR EACH ROW EXECUTE FUNCTION "refuse_deleting_held"();
