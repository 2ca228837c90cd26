DROP INDEX `outbox_channel_idx`;--> statement-breakpoint
ALTER TABLE `outbox` ADD `lane` text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX `outbox_lane_idx` ON `outbox` (`channel`,`lane`,`id`);