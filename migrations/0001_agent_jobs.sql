CREATE TABLE `agent_jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`agent` text NOT NULL,
	`reason` text NOT NULL,
	`subject` text NOT NULL,
	`fingerprint` text NOT NULL,
	`incident_id` text,
	`change` text,
	`severity_rank` integer NOT NULL,
	`state` text DEFAULT 'queued' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`lease_until` integer,
	`created_at` integer NOT NULL,
	`finished_at` integer,
	`outcome` text,
	`run_id` text,
	FOREIGN KEY (`incident_id`) REFERENCES `incidents`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `agent_jobs_subject_uq` ON `agent_jobs` (`subject`,`agent`,`reason`);--> statement-breakpoint
CREATE INDEX `agent_jobs_claim_idx` ON `agent_jobs` (`agent`,`state`,`severity_rank`,`created_at`);--> statement-breakpoint
CREATE INDEX `agent_jobs_waiting_idx` ON `agent_jobs` (`agent`,`fingerprint`) WHERE "agent_jobs"."state" = 'queued';--> statement-breakpoint
-- Backfill: every open incident that no agent run ever touched (the in-memory queue of older
-- versions lost it in a crash or a stop) gets a job for each agent that handles its first signal's
-- kind, as if it had just opened. The worker checks the policy when it takes the job.
INSERT OR IGNORE INTO `agent_jobs` (`id`, `agent`, `reason`, `subject`, `fingerprint`, `incident_id`, `change`, `severity_rank`, `state`, `attempts`, `created_at`)
SELECT 'job_backfill_' || i.`id` || '_' || h.`agent`, h.`agent`, 'opened', s.`id`, i.`fingerprint`, i.`id`,
  json_object('id', i.`id`, 'shortId', 'i' || i.`number`, 'change', 'opened', 'fingerprint', i.`fingerprint`,
    'title', i.`title`, 'severity', i.`severity`, 'service', i.`service`, 'signalCount', i.`signal_count`),
  CASE i.`severity` WHEN 'critical' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END, 'queued', 0, i.`detected_at`
FROM `incidents` i
JOIN `signals` s ON s.`id` = (SELECT `id` FROM `signals` WHERE `incident_id` = i.`id` ORDER BY `received_at`, `id` LIMIT 1)
JOIN (
  SELECT 'sentinel' AS `agent`, 'alert' AS `kind` UNION ALL SELECT 'sentinel', 'health'
  UNION ALL SELECT 'sentinel', 'error_signature' UNION ALL SELECT 'sentinel', 'event'
  UNION ALL SELECT 'sentinel', 'sweep_failure' UNION ALL SELECT 'guardian', 'advisory'
  UNION ALL SELECT 'validator', 'failed_job' UNION ALL SELECT 'mentor', 'alert'
  UNION ALL SELECT 'mentor', 'health' UNION ALL SELECT 'mentor', 'error_signature'
  UNION ALL SELECT 'mentor', 'failed_job' UNION ALL SELECT 'mentor', 'advisory'
  UNION ALL SELECT 'mentor', 'event'
) h ON h.`kind` = s.`kind`
WHERE i.`status` <> 'resolved'
  AND NOT EXISTS (SELECT 1 FROM `runs` r WHERE r.`incident_id` = i.`id` AND r.`agent` = h.`agent`);
