-- A Scheduler Pro board (conf/schedulerpro.conf): schema and a small sample.
--
-- Resources, events, the assignments between them and the dependencies between events, the
-- calendars with their intervals (loaded inside the calendars' rows) and the project (one row),
-- each a table of its own, with a revision row and retry tables of its own so that the board can
-- live in the same database as the task board of schema.sql.
--
-- Dates are DATETIME in UTC (DBDInitSQL sets time_zone = '+00:00'); the client sends them in the
-- browser's local time with its offset (2024-01-09T09:00:00+01:00 from Stockholm), and the module
-- stores the same instant in UTC.
--
-- Running the file again resets the sample: the tables are made again, with the sample in them.

DROP TABLE IF EXISTS `sp_dependencies`, `sp_assignments`, `sp_events`, `sp_resources`,
                     `sp_project`, `sp_calendar_intervals`, `sp_calendars`,
                     `sp_options`, `sp_phantoms`, `sp_requests`, `sp_journal`;

-- The calendars, by a name the application picks ("general"): the project's calendar, and the
-- calendar of a resource or an event where it has one of its own.  A string id compares
-- byte for byte (docs/operations.md, "String ids"), and so do the columns that point at it.  Without an interval a
-- calendar works around the clock (unspecified_time_is_working).
CREATE TABLE IF NOT EXISTS `sp_calendars` (
    `id`    VARCHAR(50)  COLLATE utf8mb4_nopad_bin NOT NULL,
    `name`  VARCHAR(100) NOT NULL,
    `unspecified_time_is_working` TINYINT(1) NOT NULL DEFAULT 1,
    PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A calendar's intervals: a fixed one (start_date to end_date, a holiday) or a recurring one
-- (recurrent_start_date and recurrent_end_date in the client's text form, "on Sat at 0:00").
-- They travel inside their calendar's row (TaskBoardNested) with their ids: an interval loaded
-- without its id comes back as a new one when the client changes it.
CREATE TABLE IF NOT EXISTS `sp_calendar_intervals` (
    `id`          INT          NOT NULL AUTO_INCREMENT,
    `calendar_id` VARCHAR(50)  COLLATE utf8mb4_nopad_bin NOT NULL,
    `name`        VARCHAR(100) NULL,
    `start_date`  DATETIME     NULL,
    `end_date`    DATETIME     NULL,
    `recurrent_start_date` VARCHAR(100) NULL,
    `recurrent_end_date`   VARCHAR(100) NULL,
    `is_working`  TINYINT(1)   NOT NULL DEFAULT 0,
    `priority`    INT          NULL,
    PRIMARY KEY (`id`),
    KEY `idx_sp_calendar_intervals_calendar` (`calendar_id`),
    CONSTRAINT `fk_sp_calendar_intervals_calendar` FOREIGN KEY (`calendar_id`)
        REFERENCES `sp_calendars` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The project: one row.  hours_per_day, days_per_week and days_per_month turn durations in days,
-- weeks and months into working time: 24, 7 and 30 for a calendar that works around the clock
-- (Scheduler Pro's defaults).
CREATE TABLE IF NOT EXISTS `sp_project` (
    `calendar`       VARCHAR(50) COLLATE utf8mb4_nopad_bin NULL,
    `hours_per_day`  DOUBLE      NOT NULL DEFAULT 24,
    `days_per_week`  DOUBLE      NOT NULL DEFAULT 7,
    `days_per_month` DOUBLE      NOT NULL DEFAULT 30,
    `updated_at`     DATETIME    NULL,
    CONSTRAINT `fk_sp_project_calendar` FOREIGN KEY (`calendar`)
        REFERENCES `sp_calendars` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `sp_resources` (
    `id`    INT          NOT NULL AUTO_INCREMENT,
    `name`  VARCHAR(100) NOT NULL,
    `role`  VARCHAR(50)  NULL,
    `calendar` VARCHAR(50) COLLATE utf8mb4_nopad_bin NULL,
    PRIMARY KEY (`id`),
    CONSTRAINT `fk_sp_resources_calendar` FOREIGN KEY (`calendar`)
        REFERENCES `sp_calendars` (`id`) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The events.  start_date, end_date and duration are kept consistent by the client's scheduling
-- engine: a sync that moves an event sends its new dates, one that resizes it its new end and
-- duration.  Dragging an event also pins it where it was dropped: the engine sends
-- constraintType "startnoearlierthan" and constraintDate, which must be kept, or a reload lets
-- the engine move the event back to where its dependencies allow.
CREATE TABLE IF NOT EXISTS `sp_events` (
    `id`            INT          NOT NULL AUTO_INCREMENT,
    `name`          VARCHAR(255) NOT NULL DEFAULT 'New event',
    `start_date`    DATETIME     NULL,
    `end_date`      DATETIME     NULL,
    `duration`      DOUBLE       NULL,
    `duration_unit` VARCHAR(20)  NOT NULL DEFAULT 'day',
    `percent_done`  DOUBLE       NOT NULL DEFAULT 0,
    `event_color`   VARCHAR(50)  NULL,
    `constraint_type` VARCHAR(30) NULL,
    `constraint_date` DATETIME   NULL,
    `calendar`      VARCHAR(50)  COLLATE utf8mb4_nopad_bin NULL,
    PRIMARY KEY (`id`),
    KEY `idx_sp_events_start` (`start_date`),
    CONSTRAINT `fk_sp_events_calendar` FOREIGN KEY (`calendar`)
        REFERENCES `sp_calendars` (`id`) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Who works on which event.  The client removes an event's assignments itself when it removes the
-- event; the cascade covers other writers, and the module reports what it removed.
CREATE TABLE IF NOT EXISTS `sp_assignments` (
    `id`       INT    NOT NULL AUTO_INCREMENT,
    `event`    INT    NOT NULL,
    `resource` INT    NOT NULL,
    `units`    DOUBLE NOT NULL DEFAULT 100,
    PRIMARY KEY (`id`),
    KEY `idx_sp_assignments_event` (`event`),
    KEY `idx_sp_assignments_resource` (`resource`),
    CONSTRAINT `fk_sp_assignments_event` FOREIGN KEY (`event`)
        REFERENCES `sp_events` (`id`) ON DELETE CASCADE,
    CONSTRAINT `fk_sp_assignments_resource` FOREIGN KEY (`resource`)
        REFERENCES `sp_resources` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- "from_event must end before to_event starts" and the other types: 0 start-to-start,
-- 1 start-to-end, 2 end-to-start (the default), 3 end-to-end.  lag in lag_unit.
CREATE TABLE IF NOT EXISTS `sp_dependencies` (
    `id`         INT         NOT NULL AUTO_INCREMENT,
    `from_event` INT         NOT NULL,
    `to_event`   INT         NOT NULL,
    `type`       TINYINT     NOT NULL DEFAULT 2,
    `lag`        DOUBLE      NOT NULL DEFAULT 0,
    `lag_unit`   VARCHAR(20) NOT NULL DEFAULT 'day',
    PRIMARY KEY (`id`),
    KEY `idx_sp_dependencies_from` (`from_event`),
    KEY `idx_sp_dependencies_to` (`to_event`),
    CONSTRAINT `fk_sp_dependencies_from` FOREIGN KEY (`from_event`)
        REFERENCES `sp_events` (`id`) ON DELETE CASCADE,
    CONSTRAINT `fk_sp_dependencies_to` FOREIGN KEY (`to_event`)
        REFERENCES `sp_events` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The board's revision (TaskBoardRevision sp_options value name=revision).
CREATE TABLE IF NOT EXISTS `sp_options` (
    `name`  VARCHAR(50) NOT NULL,
    `value` BIGINT      NOT NULL,
    PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Retry records and the change journal, as in schema.sql (see the comments there).
CREATE TABLE IF NOT EXISTS `sp_phantoms` (
    `tbl`        VARCHAR(64)  NOT NULL,
    `phantom`    VARCHAR(191) NOT NULL,
    `user`       VARCHAR(255) NOT NULL DEFAULT '',
    `real_id`    VARCHAR(191) NOT NULL,
    `created_at` TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (`tbl`, `phantom`, `user`),
    KEY `idx_created` (`created_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `sp_requests` (
    `request_id` VARCHAR(64)  NOT NULL,
    `body_hash`  CHAR(40)     NOT NULL,
    `response`   MEDIUMTEXT   NOT NULL,
    `created_at` TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (`request_id`, `body_hash`),
    KEY `idx_created` (`created_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `sp_journal` (
    `revision`   BIGINT       NOT NULL,
    `tbl`        VARCHAR(64)  NOT NULL,
    `record_id`  VARCHAR(191) NOT NULL,
    `operation`  VARCHAR(8)   NOT NULL,
    `changed_at` TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (`revision`, `tbl`, `record_id`),
    KEY `idx_changed` (`changed_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- ---------------------------------------------------------------------------------------------
-- The sample: four people, six events in the weeks of 8 and 15 January 2024, two dependencies,
-- the project's calendar with a company holiday in February (after the events, so that it
-- moves none of them) and a calendar of weekdays that nothing uses yet.  Explicit ids, so that
-- the tests can rely on them.

START TRANSACTION;

INSERT INTO `sp_calendars` (`id`, `name`, `unspecified_time_is_working`) VALUES
    ('general',  'General',  1),
    ('weekdays', 'Weekdays', 1);

INSERT INTO `sp_calendar_intervals` (`id`, `calendar_id`, `name`, `start_date`, `end_date`,
                                     `recurrent_start_date`, `recurrent_end_date`, `is_working`)
VALUES
    (1, 'general',  'Company day', '2024-02-05 00:00:00', '2024-02-06 00:00:00', NULL, NULL, 0),
    (2, 'weekdays', 'Weekend',     NULL, NULL, 'on Sat at 0:00', 'on Mon at 0:00', 0);

INSERT INTO `sp_project` (`calendar`, `hours_per_day`, `days_per_week`, `days_per_month`)
VALUES ('general', 24, 7, 30);

INSERT INTO `sp_resources` (`id`, `name`, `role`) VALUES
    (1, 'Arcady', 'Architect'),
    (2, 'Celia',  'Designer'),
    (3, 'Dave',   'Developer'),
    (4, 'Lee',    'Tester');

-- Around the clock: a day of duration is 24 hours from start to end.  Every event starts as early
-- as its dependencies allow (Release right when Test ends), as the client's scheduling engine
-- would place it: the engine moves an event that the database has elsewhere on load, without
-- saving the move (Scheduler Pro 7 silences its initial commit), so the page would not show the
-- database.
INSERT INTO `sp_events` (`id`, `name`, `start_date`, `end_date`, `duration`, `duration_unit`,
                         `percent_done`, `event_color`) VALUES
    (1, 'Design',        '2024-01-08 08:00:00', '2024-01-10 08:00:00', 2, 'day', 50, NULL),
    (2, 'Build',         '2024-01-10 08:00:00', '2024-01-13 08:00:00', 3, 'day',  0, NULL),
    (3, 'Test',          '2024-01-15 08:00:00', '2024-01-17 08:00:00', 2, 'day',  0, 'green'),
    (4, 'Review',        '2024-01-09 08:00:00', '2024-01-10 08:00:00', 1, 'day',  0, 'orange'),
    (5, 'Documentation', '2024-01-11 08:00:00', '2024-01-13 08:00:00', 2, 'day',  0, NULL),
    (6, 'Release',       '2024-01-17 08:00:00', '2024-01-18 08:00:00', 1, 'day',  0, 'red');

INSERT INTO `sp_assignments` (`id`, `event`, `resource`, `units`) VALUES
    (1, 1, 1, 100),
    (2, 2, 3, 100),
    (3, 3, 4, 100),
    (4, 4, 2, 100),
    (5, 5, 2, 100),
    (6, 6, 1, 100),
    (7, 6, 3, 100);

-- Design before Build, Test before Release.
INSERT INTO `sp_dependencies` (`id`, `from_event`, `to_event`, `type`, `lag`, `lag_unit`) VALUES
    (1, 1, 2, 2, 0, 'day'),
    (2, 3, 6, 2, 0, 'day');

INSERT INTO `sp_options` (`name`, `value`) VALUES ('revision', 1);

COMMIT;
