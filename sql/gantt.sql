-- A Bryntum Gantt board (conf/gantt.conf): schema and a small sample.
--
-- The tasks are a tree (parent_id, and parent_index: the place among its siblings), loaded as
-- nested children; dependencies between tasks; calendars, each with its intervals in a table of
-- their own (loaded inside the calendar's row, with their ids); resources and the assignments of
-- resources to tasks; the project (one row: its calendar and start).  Every table has the prefix
-- g_, with a revision row, retry tables and journal of its own, so that the board can live in the
-- same database as the task board of schema.sql and the Scheduler Pro board of schedulerpro.sql.
--
-- Dates are DATETIME in UTC (DBDInitSQL sets time_zone = '+00:00'); the client sends them in the
-- browser's local time with its offset (2024-01-08T09:00:00+01:00 from Stockholm), and the module
-- stores the same instant in UTC (2024-01-08 08:00:00).
--
-- Running the file again resets the sample: the tables are made again, with the sample in them.

DROP TABLE IF EXISTS `g_assignments`, `g_dependencies`, `g_tasks`, `g_resources`,
                     `g_calendar_intervals`, `g_project`, `g_calendars`,
                     `g_options`, `g_phantoms`, `g_requests`, `g_journal`;

-- Calendars: their id is a name the tasks and the project refer to ("general").
CREATE TABLE IF NOT EXISTS `g_calendars` (
    `id`    VARCHAR(50)  NOT NULL,
    `name`  VARCHAR(100) NULL,
    `unspecified_time_is_working` TINYINT(1) NOT NULL DEFAULT 1,
    PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A calendar's intervals: either recurrent (later.js text in the browser's local time, "on Sat at
-- 0:00") or between two dates.  They need ids: an interval loaded without one comes back from the
-- client as a new one, and would be stored twice.  They go with their calendar.
CREATE TABLE IF NOT EXISTS `g_calendar_intervals` (
    `id`              INT          NOT NULL AUTO_INCREMENT,
    `calendar_id`     VARCHAR(50)  NOT NULL,
    `name`            VARCHAR(100) NULL,
    `recurrent_start` VARCHAR(100) NULL,
    `recurrent_end`   VARCHAR(100) NULL,
    `start_date`      DATETIME     NULL,
    `end_date`        DATETIME     NULL,
    `is_working`      TINYINT(1)   NOT NULL DEFAULT 0,
    PRIMARY KEY (`id`),
    KEY `idx_g_intervals_calendar` (`calendar_id`),
    CONSTRAINT `fk_g_intervals_calendar` FOREIGN KEY (`calendar_id`)
        REFERENCES `g_calendars` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The project: one row (<TaskBoardProject g_project>).  Without a start date the Gantt starts
-- the project at its earliest task; tasks without predecessors start at the project's start.
CREATE TABLE IF NOT EXISTS `g_project` (
    `calendar`       VARCHAR(50) NULL,
    `start_date`     DATETIME    NULL,
    `hours_per_day`  DOUBLE      NOT NULL DEFAULT 24,
    `days_per_week`  DOUBLE      NOT NULL DEFAULT 7,
    `days_per_month` DOUBLE      NOT NULL DEFAULT 30,
    CONSTRAINT `fk_g_project_calendar` FOREIGN KEY (`calendar`)
        REFERENCES `g_calendars` (`id`) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `g_resources` (
    `id`    INT          NOT NULL AUTO_INCREMENT,
    `name`  VARCHAR(100) NOT NULL,
    `city`  VARCHAR(100) NULL,
    PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The tasks.  A task's parent is parent_id (NULL: a root task), its place among its siblings
-- parent_index, which the client renumbers and sends for every sibling that moved.  Removing a
-- parent removes its subtree: the client sends every removed task, and the cascade (which the
-- module reports) covers any it did not.  The scheduling engine keeps start_date, end_date and
-- duration consistent with the calendars and dependencies, and sends what it changed; a parent's
-- dates are its children's.  baselines and segments are what the client sends: JSON arrays.
CREATE TABLE IF NOT EXISTS `g_tasks` (
    `id`                 INT          NOT NULL AUTO_INCREMENT,
    `parent_id`          INT          NULL,
    `parent_index`       INT          NOT NULL DEFAULT 0,
    `name`               VARCHAR(255) NOT NULL DEFAULT 'New task',
    `start_date`         DATETIME     NULL,
    `end_date`           DATETIME     NULL,
    `duration`           DOUBLE       NULL,
    `duration_unit`      VARCHAR(20)  NOT NULL DEFAULT 'day',
    `percent_done`       DOUBLE       NOT NULL DEFAULT 0,
    `scheduling_mode`    VARCHAR(20)  NOT NULL DEFAULT 'Normal',
    `manually_scheduled` TINYINT(1)   NOT NULL DEFAULT 0,
    `constraint_type`    VARCHAR(30)  NULL,
    `constraint_date`    DATETIME     NULL,
    `calendar_id`        VARCHAR(50)  NULL,
    `expanded`           TINYINT(1)   NOT NULL DEFAULT 0,
    `note`               TEXT         NULL,
    `baselines`          JSON         NULL,
    `segments`           JSON         NULL,
    PRIMARY KEY (`id`),
    KEY `idx_g_tasks_parent` (`parent_id`, `parent_index`),
    CONSTRAINT `fk_g_tasks_parent` FOREIGN KEY (`parent_id`)
        REFERENCES `g_tasks` (`id`) ON DELETE CASCADE,
    CONSTRAINT `fk_g_tasks_calendar` FOREIGN KEY (`calendar_id`)
        REFERENCES `g_calendars` (`id`) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- "from_task must end before to_task starts" and the other types: 0 start-to-start,
-- 1 start-to-end, 2 end-to-start (the default), 3 end-to-end.  lag in lag_unit.
CREATE TABLE IF NOT EXISTS `g_dependencies` (
    `id`        INT         NOT NULL AUTO_INCREMENT,
    `from_task` INT         NOT NULL,
    `to_task`   INT         NOT NULL,
    `type`      TINYINT     NOT NULL DEFAULT 2,
    `lag`       DOUBLE      NOT NULL DEFAULT 0,
    `lag_unit`  VARCHAR(20) NOT NULL DEFAULT 'day',
    PRIMARY KEY (`id`),
    KEY `idx_g_dependencies_from` (`from_task`),
    KEY `idx_g_dependencies_to` (`to_task`),
    CONSTRAINT `fk_g_dependencies_from` FOREIGN KEY (`from_task`)
        REFERENCES `g_tasks` (`id`) ON DELETE CASCADE,
    CONSTRAINT `fk_g_dependencies_to` FOREIGN KEY (`to_task`)
        REFERENCES `g_tasks` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `g_assignments` (
    `id`       INT    NOT NULL AUTO_INCREMENT,
    `task`     INT    NOT NULL,
    `resource` INT    NOT NULL,
    `units`    DOUBLE NOT NULL DEFAULT 100,
    PRIMARY KEY (`id`),
    KEY `idx_g_assignments_task` (`task`),
    KEY `idx_g_assignments_resource` (`resource`),
    CONSTRAINT `fk_g_assignments_task` FOREIGN KEY (`task`)
        REFERENCES `g_tasks` (`id`) ON DELETE CASCADE,
    CONSTRAINT `fk_g_assignments_resource` FOREIGN KEY (`resource`)
        REFERENCES `g_resources` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The board's revision (TaskBoardRevision g_options value name=revision).
CREATE TABLE IF NOT EXISTS `g_options` (
    `name`  VARCHAR(50) NOT NULL,
    `value` BIGINT      NOT NULL,
    PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Retry records and the change journal, as in schema.sql (see the comments there).
CREATE TABLE IF NOT EXISTS `g_phantoms` (
    `tbl`        VARCHAR(64)  NOT NULL,
    `phantom`    VARCHAR(191) NOT NULL,
    `user`       VARCHAR(255) NOT NULL DEFAULT '',
    `real_id`    VARCHAR(191) NOT NULL,
    `created_at` TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (`tbl`, `phantom`, `user`),
    KEY `idx_created` (`created_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `g_requests` (
    `request_id` VARCHAR(64)  NOT NULL,
    `body_hash`  CHAR(40)     NOT NULL,
    `response`   MEDIUMTEXT   NOT NULL,
    `created_at` TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (`request_id`, `body_hash`),
    KEY `idx_created` (`created_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `g_journal` (
    `revision`   BIGINT       NOT NULL,
    `tbl`        VARCHAR(64)  NOT NULL,
    `record_id`  VARCHAR(191) NOT NULL,
    `operation`  VARCHAR(8)   NOT NULL,
    `changed_at` TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (`revision`, `tbl`, `record_id`),
    KEY `idx_changed` (`changed_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- ---------------------------------------------------------------------------------------------
-- The sample: a launch in the weeks of 8 and 15 January 2024.  Explicit ids, so that the tests
-- can rely on them.

START TRANSACTION;

-- Work around the clock on weekdays; the weekend (in the browser's local time) is not working.
INSERT INTO `g_calendars` (`id`, `name`) VALUES ('general', 'General');
INSERT INTO `g_calendar_intervals` (`id`, `calendar_id`, `name`, `recurrent_start`,
                                    `recurrent_end`, `is_working`) VALUES
    (1, 'general', 'Weekend', 'on Sat at 0:00', 'on Mon at 0:00', 0);

-- 09:00 in Stockholm on Monday 8 January
INSERT INTO `g_project` (`calendar`, `start_date`) VALUES ('general', '2024-01-08 08:00:00');

INSERT INTO `g_resources` (`id`, `name`, `city`) VALUES
    (1, 'Arcady', 'Stockholm'),
    (2, 'Celia',  'Barcelona'),
    (3, 'Dave',   'Kyiv');

-- The dates are where the Gantt's scheduling engine puts the tasks (as soon as the project's
-- start and the dependencies allow, weekends skipped): the engine moves a task that the database
-- has elsewhere when it loads, without saving the move, so the page would not show the database.
-- A parent spans its children; its duration is the working time between (Launch: 9 days less a
-- weekend).
INSERT INTO `g_tasks` (`id`, `parent_id`, `parent_index`, `name`, `start_date`, `end_date`,
                       `duration`, `expanded`, `baselines`) VALUES
    (1, NULL, 0, 'Launch',        '2024-01-08 08:00:00', '2024-01-17 08:00:00', 7, 1, NULL),
    (2, 1,    0, 'Design',        '2024-01-08 08:00:00', '2024-01-10 08:00:00', 2, 0,
        '[{"startDate":"2024-01-08T08:00:00Z","endDate":"2024-01-09T08:00:00Z"}]'),
    (3, 1,    1, 'Build',         '2024-01-10 08:00:00', '2024-01-17 08:00:00', 5, 0, NULL),
    (4, NULL, 1, 'Documentation', '2024-01-08 08:00:00', '2024-01-10 08:00:00', 2, 1, NULL),
    (5, 4,    0, 'Manual',        '2024-01-08 08:00:00', '2024-01-10 08:00:00', 2, 0, NULL),
    (6, 4,    1, 'Release notes', '2024-01-08 08:00:00', '2024-01-09 08:00:00', 1, 0, NULL),
    (7, NULL, 2, 'Release',       '2024-01-17 08:00:00', '2024-01-18 08:00:00', 1, 0, NULL);

-- Design before Build, Build before Release.
INSERT INTO `g_dependencies` (`id`, `from_task`, `to_task`, `type`, `lag`, `lag_unit`) VALUES
    (1, 2, 3, 2, 0, 'day'),
    (2, 3, 7, 2, 0, 'day');

INSERT INTO `g_assignments` (`id`, `task`, `resource`, `units`) VALUES
    (1, 2, 1, 100),
    (2, 3, 3, 100),
    (3, 5, 2, 100),
    (4, 7, 1, 100);

INSERT INTO `g_options` (`name`, `value`) VALUES ('revision', 1);

COMMIT;
