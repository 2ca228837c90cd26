CREATE TABLE `incident_subscriptions` (
	`channel` text NOT NULL,
	`scope` text NOT NULL,
	`name` text NOT NULL,
	`subscribed_by` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`channel`, `scope`, `name`)
);
--> statement-breakpoint
CREATE INDEX `incident_subs_scope_idx` ON `incident_subscriptions` (`scope`,`name`);--> statement-breakpoint
CREATE INDEX `outbox_update_of_idx` ON `outbox` (`update_of`);