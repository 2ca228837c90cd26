CREATE TABLE `approvals` (
	`id` text PRIMARY KEY NOT NULL,
	`number` integer NOT NULL,
	`proposal_id` text NOT NULL,
	`agent` text NOT NULL,
	`action_id` text NOT NULL,
	`params` text NOT NULL,
	`binding_hash` text NOT NULL,
	`state` text DEFAULT 'pending' NOT NULL,
	`requested_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`decided_by` text,
	`decided_at` integer,
	`reason` text,
	`message_refs` text DEFAULT '[]' NOT NULL,
	`run_id` text,
	`escalation_level` integer DEFAULT 0 NOT NULL,
	`next_escalation_at` integer,
	`updated_at` integer NOT NULL,
	`version` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`proposal_id`) REFERENCES `proposals`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `approvals_number_uq` ON `approvals` (`number`);--> statement-breakpoint
CREATE INDEX `approvals_state_expires_idx` ON `approvals` (`state`,`expires_at`);--> statement-breakpoint
CREATE INDEX `approvals_binding_idx` ON `approvals` (`binding_hash`);--> statement-breakpoint
CREATE INDEX `approvals_proposal_idx` ON `approvals` (`proposal_id`);--> statement-breakpoint
CREATE TABLE `audit_log` (
	`seq` integer PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`kind` text NOT NULL,
	`agent` text,
	`actor` text,
	`trigger` text,
	`model` text,
	`action_class` text,
	`tier` integer,
	`verdict` text,
	`outcome` text,
	`evidence` text NOT NULL,
	`data` text,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_log_at_idx` ON `audit_log` (`at`);--> statement-breakpoint
CREATE TABLE `control` (
	`kind` text NOT NULL,
	`scope` text NOT NULL,
	`value` integer,
	`reason` text,
	`actor` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`kind`, `scope`)
);
--> statement-breakpoint
CREATE TABLE `grants` (
	`id` text PRIMARY KEY NOT NULL,
	`agent` text NOT NULL,
	`action_id` text NOT NULL,
	`entry_hash` text NOT NULL,
	`param_pattern` text NOT NULL,
	`reason` text,
	`granted_by` text NOT NULL,
	`granted_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`revoked_by` text,
	`uses` integer DEFAULT 0 NOT NULL,
	`last_used_at` integer
);
--> statement-breakpoint
CREATE INDEX `grants_action_expires_idx` ON `grants` (`action_id`,`expires_at`);--> statement-breakpoint
CREATE TABLE `incidents` (
	`id` text PRIMARY KEY NOT NULL,
	`number` integer NOT NULL,
	`fingerprint` text NOT NULL,
	`title` text NOT NULL,
	`severity` text NOT NULL,
	`service` text,
	`status` text DEFAULT 'open' NOT NULL,
	`started_at` integer NOT NULL,
	`detected_at` integer NOT NULL,
	`acknowledged_at` integer,
	`acknowledged_by` text,
	`resolved_at` integer,
	`resolved_by` text,
	`signal_count` integer DEFAULT 0 NOT NULL,
	`last_signal_at` integer,
	`escalation_level` integer DEFAULT 0 NOT NULL,
	`next_escalation_at` integer,
	`message_refs` text DEFAULT '[]' NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `incidents_number_uq` ON `incidents` (`number`);--> statement-breakpoint
CREATE INDEX `incidents_escalation_idx` ON `incidents` (`next_escalation_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `incidents_open_fingerprint_uq` ON `incidents` (`fingerprint`) WHERE "incidents"."status" <> 'resolved';--> statement-breakpoint
CREATE INDEX `incidents_fingerprint_idx` ON `incidents` (`fingerprint`,`started_at`);--> statement-breakpoint
CREATE INDEX `incidents_status_idx` ON `incidents` (`status`,`detected_at`);--> statement-breakpoint
CREATE INDEX `incidents_detected_idx` ON `incidents` (`detected_at`);--> statement-breakpoint
CREATE TABLE `model_usage` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`agent` text NOT NULL,
	`run_id` text,
	`model` text NOT NULL,
	`provider` text NOT NULL,
	`prompt_tokens` integer DEFAULT 0 NOT NULL,
	`completion_tokens` integer DEFAULT 0 NOT NULL,
	`duration_ms` integer,
	`at` integer NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `model_usage_agent_at_idx` ON `model_usage` (`agent`,`at`);--> statement-breakpoint
CREATE INDEX `model_usage_at_idx` ON `model_usage` (`at`);--> statement-breakpoint
CREATE TABLE `mutes` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`target` text NOT NULL,
	`until` integer NOT NULL,
	`reason` text,
	`actor` text NOT NULL,
	`created_at` integer NOT NULL,
	`lifted_at` integer,
	`lifted_by` text
);
--> statement-breakpoint
CREATE INDEX `mutes_target_idx` ON `mutes` (`kind`,`target`,`until`);--> statement-breakpoint
CREATE TABLE `outbox` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel` text NOT NULL,
	`dedupe_key` text NOT NULL,
	`op` text DEFAULT 'post' NOT NULL,
	`update_of` integer,
	`message` text NOT NULL,
	`state` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text,
	`created_at` integer NOT NULL,
	`delivered_at` integer,
	`platform_ref` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `outbox_dedupe_key_uq` ON `outbox` (`dedupe_key`);--> statement-breakpoint
CREATE INDEX `outbox_state_next_idx` ON `outbox` (`state`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `outbox_channel_idx` ON `outbox` (`channel`,`id`);--> statement-breakpoint
CREATE TABLE `policy_versions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`hash` text NOT NULL,
	`source_path` text NOT NULL,
	`content` text NOT NULL,
	`loaded_at` integer NOT NULL,
	`actor` text NOT NULL,
	`active` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE INDEX `policy_versions_hash_idx` ON `policy_versions` (`hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `policy_versions_one_active_uq` ON `policy_versions` (`active`) WHERE "policy_versions"."active" = 1;--> statement-breakpoint
CREATE TABLE `proposals` (
	`id` text PRIMARY KEY NOT NULL,
	`agent` text NOT NULL,
	`action_id` text NOT NULL,
	`params` text NOT NULL,
	`rationale` text,
	`evidence` text DEFAULT '[]' NOT NULL,
	`verdict` text NOT NULL,
	`code` text NOT NULL,
	`reason` text NOT NULL,
	`tier` integer,
	`phase` integer,
	`binding_hash` text,
	`decided_at` integer NOT NULL,
	`run_id` text,
	`incident_id` text,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`incident_id`) REFERENCES `incidents`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `proposals_agent_decided_idx` ON `proposals` (`agent`,`decided_at`);--> statement-breakpoint
CREATE INDEX `proposals_action_decided_idx` ON `proposals` (`action_id`,`decided_at`);--> statement-breakpoint
CREATE INDEX `proposals_incident_idx` ON `proposals` (`incident_id`);--> statement-breakpoint
CREATE TABLE `runs` (
	`id` text PRIMARY KEY NOT NULL,
	`agent` text NOT NULL,
	`trigger_source` text NOT NULL,
	`trigger_ref` text,
	`model` text,
	`provider` text,
	`action_id` text,
	`action_class` text,
	`tier` integer,
	`verdict` text,
	`outcome` text,
	`evidence` text DEFAULT '[]' NOT NULL,
	`tokens` integer DEFAULT 0 NOT NULL,
	`cpu_ms` integer,
	`wall_ms` integer,
	`started_at` integer NOT NULL,
	`finished_at` integer,
	`status` text DEFAULT 'running' NOT NULL,
	`incident_id` text,
	`error` text,
	FOREIGN KEY (`incident_id`) REFERENCES `incidents`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `runs_agent_started_idx` ON `runs` (`agent`,`started_at`);--> statement-breakpoint
CREATE INDEX `runs_action_started_idx` ON `runs` (`action_id`,`started_at`);--> statement-breakpoint
CREATE INDEX `runs_status_idx` ON `runs` (`status`);--> statement-breakpoint
CREATE INDEX `runs_incident_idx` ON `runs` (`incident_id`);--> statement-breakpoint
CREATE TABLE `signals` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`source` text NOT NULL,
	`dedupe_key` text NOT NULL,
	`fingerprint` text NOT NULL,
	`title` text,
	`service` text,
	`severity` text NOT NULL,
	`payload` text NOT NULL,
	`occurred_at` integer,
	`received_at` integer NOT NULL,
	`incident_id` text,
	FOREIGN KEY (`incident_id`) REFERENCES `incidents`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `signals_dedupe_key_uq` ON `signals` (`dedupe_key`);--> statement-breakpoint
CREATE INDEX `signals_fingerprint_idx` ON `signals` (`fingerprint`,`received_at`);--> statement-breakpoint
CREATE INDEX `signals_incident_idx` ON `signals` (`incident_id`);--> statement-breakpoint
CREATE INDEX `signals_received_idx` ON `signals` (`received_at`);--> statement-breakpoint
CREATE TABLE `signature_templates` (
	`signature` text PRIMARY KEY NOT NULL,
	`template` text NOT NULL,
	`record` text NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	`first_seen_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `signature_templates_last_seen_idx` ON `signature_templates` (`last_seen_at`);--> statement-breakpoint
CREATE TABLE `skills` (
	`id` text PRIMARY KEY NOT NULL,
	`pattern_key` text NOT NULL,
	`title` text,
	`state` text DEFAULT 'draft' NOT NULL,
	`path` text,
	`occurrences` integer DEFAULT 0 NOT NULL,
	`evidence` text DEFAULT '[]' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`promoted_at` integer,
	`rolled_back_at` integer
);
--> statement-breakpoint
CREATE INDEX `skills_pattern_idx` ON `skills` (`pattern_key`);--> statement-breakpoint
CREATE INDEX `skills_state_idx` ON `skills` (`state`);--> statement-breakpoint
CREATE TABLE `subscriptions` (
	`channel` text PRIMARY KEY NOT NULL,
	`subscribed_by` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `sweep_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`agent` text NOT NULL,
	`kind` text NOT NULL,
	`scheduled_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`status` text NOT NULL,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `sweep_runs_agent_kind_idx` ON `sweep_runs` (`agent`,`kind`,`scheduled_at`);