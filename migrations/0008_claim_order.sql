DROP INDEX `agent_jobs_claim_idx`;--> statement-breakpoint
CREATE INDEX `agent_jobs_claim_idx` ON `agent_jobs` (`agent`,`state`,"severity_rank" desc,`created_at`);