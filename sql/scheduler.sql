-- A Bryntum Scheduler or Calendar board (conf/scheduler.conf): schema and a small sample.
--
-- Each event belongs to one resource (resource_id: the products' single assignment mode; a
-- Calendar shows its resources as calendars).  Tables prefixed s_, with a revision row, retry
-- tables and journal of their own, so that the board lives beside the other samples in one
-- database.  Dates are DATETIME in UTC; the client sends them with the browser's offset.
--
-- Running the file again resets the sample: the tables are made again, with the sample in them.

DROP TABLE IF EXISTS `s_dependencies`, `s_events`, `s_resources`,
                     `s_options`, `s_phantoms`, `s_requests`, `s_journal`;

CREATE TABLE IF NOT EXISTS `s_resources` (
    `id`          INT          NOT NULL AUTO_INCREMENT,
    `name`        VARCHAR(100) NOT NULL,
    `event_color` VARCHAR(30)  NULL,
    PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A recurring event is one row: recurrence_rule says when it comes again, exception_dates (a
-- JSON array) which occurrences are skipped.  Removing a resource removes its events.
CREATE TABLE IF NOT EXISTS `s_events` (
    `id`              INT          NOT NULL AUTO_INCREMENT,
    `resource_id`     INT          NULL,
    `name`            VARCHAR(255) NOT NULL DEFAULT 'New event',
    `start_date`      DATETIME     NULL,
    `end_date`        DATETIME     NULL,
    `duration`        DOUBLE       NULL,
    `duration_unit`   VARCHAR(20)  NOT NULL DEFAULT 'day',
    `all_day`         TINYINT(1)   NOT NULL DEFAULT 0,
    `recurrence_rule` VARCHAR(255) NULL,
    `exception_dates` JSON         NULL,
    `event_color`     VARCHAR(30)  NULL,
    PRIMARY KEY (`id`),
    KEY `idx_s_events_resource` (`resource_id`),
    KEY `idx_s_events_start` (`start_date`),
    CONSTRAINT `fk_s_events_resource` FOREIGN KEY (`resource_id`)
        REFERENCES `s_resources` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `s_dependencies` (
    `id`         INT         NOT NULL AUTO_INCREMENT,
    `from_event` INT         NOT NULL,
    `to_event`   INT         NOT NULL,
    `type`       TINYINT     NOT NULL DEFAULT 2,
    `lag`        DOUBLE      NOT NULL DEFAULT 0,
    `lag_unit`   VARCHAR(20) NOT NULL DEFAULT 'day',
    PRIMARY KEY (`id`),
    KEY `idx_s_dependencies_from` (`from_event`),
    KEY `idx_s_dependencies_to` (`to_event`),
    CONSTRAINT `fk_s_dependencies_from` FOREIGN KEY (`from_event`)
        REFERENCES `s_events` (`id`) ON DELETE CASCADE,
    CONSTRAINT `fk_s_dependencies_to` FOREIGN KEY (`to_event`)
        REFERENCES `s_events` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `s_options` (
    `name`  VARCHAR(50) NOT NULL,
    `value` BIGINT      NOT NULL,
    PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Retry records and the change journal, as in schema.sql (see the comments there).
CREATE TABLE IF NOT EXISTS `s_phantoms` (
    `tbl`        VARCHAR(64)  NOT NULL,
    `phantom`    VARCHAR(191) NOT NULL,
    `user`       VARCHAR(255) NOT NULL DEFAULT '',
    `real_id`    VARCHAR(191) NOT NULL,
    `created_at` TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (`tbl`, `phantom`, `user`),
    KEY `idx_created` (`created_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `s_requests` (
    `request_id` VARCHAR(64)  NOT NULL,
    `body_hash`  CHAR(40)     NOT NULL,
    `response`   MEDIUMTEXT   NOT NULL,
    `created_at` TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (`request_id`, `body_hash`),
    KEY `idx_created` (`created_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `s_journal` (
    `revision`   BIGINT       NOT NULL,
    `tbl`        VARCHAR(64)  NOT NULL,
    `record_id`  VARCHAR(191) NOT NULL,
    `operation`  VARCHAR(8)   NOT NULL,
    `changed_at` TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (`revision`, `tbl`, `record_id`),
    KEY `idx_changed` (`changed_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- ---------------------------------------------------------------------------------------------
-- The sample: three people, a week of January 2024.  Explicit ids, so that the tests can rely
-- on them.

START TRANSACTION;

INSERT INTO `s_resources` (`id`, `name`, `event_color`) VALUES
    (1, 'Arcady', 'blue'),
    (2, 'Celia',  'green'),
    (3, 'Dave',   'orange');

INSERT INTO `s_events` (`id`, `resource_id`, `name`, `start_date`, `end_date`, `duration`,
                        `duration_unit`, `recurrence_rule`) VALUES
    (1, 1, 'Planning',    '2024-01-08 08:00:00', '2024-01-08 10:00:00', 2, 'hour', NULL),
    (2, 2, 'Design',      '2024-01-09 09:00:00', '2024-01-09 12:00:00', 3, 'hour', NULL),
    (3, 3, 'Code review', '2024-01-10 13:00:00', '2024-01-10 14:00:00', 1, 'hour', NULL),
    (4, 1, 'Stand-up',    '2024-01-08 07:30:00', '2024-01-08 07:45:00', 15, 'minute',
        'FREQ=DAILY;COUNT=5');

INSERT INTO `s_dependencies` (`id`, `from_event`, `to_event`, `type`, `lag`, `lag_unit`) VALUES
    (1, 1, 2, 2, 0, 'day');

INSERT INTO `s_options` (`name`, `value`) VALUES ('revision', 1);

COMMIT;
