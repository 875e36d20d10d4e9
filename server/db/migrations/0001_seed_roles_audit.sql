INSERT INTO "roles" ("name", "description") VALUES
  ('admin', 'Everything, including users, keys, audit and fleet'),
  ('engineer', 'Models, deployments, jobs and experiments, plus chat'),
  ('user', 'Chat with the models they are allowed to use; their own API keys'),
  ('viewer', 'Read-only dashboards and their own chat history')
ON CONFLICT ("name") DO NOTHING;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON "audit_log"
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
