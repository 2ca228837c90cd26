DROP INDEX `signals_incident_idx`;--> statement-breakpoint
CREATE INDEX `signals_incident_received_idx` ON `signals` (`incident_id`,`received_at`);--> statement-breakpoint
CREATE INDEX `incidents_open_service_idx` ON `incidents` (`service`,`last_signal_at`) WHERE "incidents"."status" <> 'resolved';--> statement-breakpoint
CREATE INDEX `model_usage_run_idx` ON `model_usage` (`run_id`);--> statement-breakpoint
CREATE INDEX `proposals_run_idx` ON `proposals` (`run_id`);--> statement-breakpoint
CREATE INDEX `runs_started_idx` ON `runs` (`started_at`);