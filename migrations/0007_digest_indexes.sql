CREATE INDEX `approvals_decided_idx` ON `approvals` (`decided_at`);--> statement-breakpoint
CREATE INDEX `incidents_resolved_idx` ON `incidents` (`resolved_at`);--> statement-breakpoint
CREATE INDEX `proposals_decided_idx` ON `proposals` (`decided_at`);