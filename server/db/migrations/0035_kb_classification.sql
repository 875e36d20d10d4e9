-- Knowledge bases are classified like conversations, datasets and API keys (issue 16 part 4): a new subject kind.
ALTER TABLE "data_classifications" DROP CONSTRAINT "data_classifications_kind";--> statement-breakpoint
ALTER TABLE "data_classifications" ADD CONSTRAINT "data_classifications_kind" CHECK ("data_classifications"."subject_kind" IN ('conversation', 'dataset', 'api_key', 'knowledge_base'));
