-- Schema of the sample task board served by conf/taskboard.conf.
--
-- Re-runnable: every statement leaves existing tables and rows alone, so `tbctl.sh start` loads it on
-- every start without losing the board.  InnoDB is required because mod_taskboard runs each sync in a
-- transaction and the apr_dbd mysql driver fails silently on non-transactional engines.
-- utf8mb4 (with DBDInitSQL "SET NAMES utf8mb4") keeps every Unicode character, emoji included.

-- The cards of the board.  `status` is the column a card is in, `prio` its swimlane, `weight` its
-- position inside the column.
CREATE TABLE IF NOT EXISTS `tasks` (
    `id`          INT          NOT NULL AUTO_INCREMENT,
    `name`        VARCHAR(255) NOT NULL DEFAULT 'New task',
    `description` TEXT         NULL,
    `status`      VARCHAR(50)  NOT NULL DEFAULT 'todo',
    `prio`        VARCHAR(20)  NULL DEFAULT 'medium',
    `weight`      INT          NULL DEFAULT 0,
    `deadline`    DATE         NULL,
    -- kept in UTC: DBDInitSQL sets time_zone = '+00:00' on every pooled connection
    `start_date`  DATETIME     NULL,
    `event_color` VARCHAR(50)  NULL,
    `read_only`   TINYINT(1)   NOT NULL DEFAULT 0,
    `parent_id`   INT          NULL,
    -- MariaDB's JSON is LONGTEXT with a json_valid() check, so invalid JSON is rejected by the server
    `meta`        JSON         NULL,
    `created_at`  TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    `updated_at`  TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (`id`),
    KEY `idx_tasks_status` (`status`),
    KEY `idx_tasks_parent` (`parent_id`),
    KEY `idx_tasks_weight` (`weight`),
    -- removing a parent removes its subtasks, as a tree store on the client does
    CONSTRAINT `fk_tasks_parent` FOREIGN KEY (`parent_id`)
        REFERENCES `tasks` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Who added and who last changed a card (TaskBoardField ... stamp=created-by|updated-by: the module
-- writes the authenticated user).  Added with ALTER TABLE so that an existing board gets them too.
ALTER TABLE `tasks` ADD COLUMN IF NOT EXISTS `created_by` VARCHAR(100) NULL,
                    ADD COLUMN IF NOT EXISTS `updated_by` VARCHAR(100) NULL;

-- The people who can be assigned to cards.
CREATE TABLE IF NOT EXISTS `resources` (
    `id`     INT          NOT NULL AUTO_INCREMENT,
    `name`   VARCHAR(100) NOT NULL,
    `email`  VARCHAR(255) NULL,
    `image`  VARCHAR(255) NULL,
    `role`   VARCHAR(50)  NULL,
    `active` TINYINT(1)   NOT NULL DEFAULT 1,
    PRIMARY KEY (`id`),
    UNIQUE KEY `uk_resources_email` (`email`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Which resource works on which task (many-to-many).  The column names `event` and `resource` are
-- the ones Bryntum's own PHP backend uses; the store maps them to eventId and resourceId.
CREATE TABLE IF NOT EXISTS `assignments` (
    `id`       INT          NOT NULL AUTO_INCREMENT,
    `event`    INT          NOT NULL,
    `resource` INT          NOT NULL,
    `units`    DECIMAL(5,2) NULL DEFAULT 100.00,
    PRIMARY KEY (`id`),
    UNIQUE KEY `uk_assignments_event_resource` (`event`, `resource`),
    -- the unique key above already serves lookups by event; this one serves lookups by resource
    KEY `idx_assignments_resource` (`resource`),
    CONSTRAINT `fk_assignments_task` FOREIGN KEY (`event`)
        REFERENCES `tasks` (`id`) ON DELETE CASCADE,
    CONSTRAINT `fk_assignments_resource` FOREIGN KEY (`resource`)
        REFERENCES `resources` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The board's columns; the id is the `status` value of the tasks shown in it, chosen by the client.
CREATE TABLE IF NOT EXISTS `columns` (
    `id`        VARCHAR(50)  COLLATE utf8mb4_nopad_bin NOT NULL,
    `text`      VARCHAR(100) NOT NULL,
    `color`     VARCHAR(50)  NULL,
    `collapsed` TINYINT(1)   NOT NULL DEFAULT 0,
    `weight`    INT          NOT NULL DEFAULT 0,
    PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The board's swimlanes; the id is the `prio` value of the tasks shown in it.
CREATE TABLE IF NOT EXISTS `swimlanes` (
    `id`        VARCHAR(50)  COLLATE utf8mb4_nopad_bin NOT NULL,
    `text`      VARCHAR(100) NOT NULL,
    `color`     VARCHAR(50)  NULL,
    `collapsed` TINYINT(1)   NOT NULL DEFAULT 0,
    `weight`    INT          NOT NULL DEFAULT 0,
    PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- String ids are compared byte for byte, trailing spaces included (nopad): 'todo', 'TODO' and
-- 'todo ' are three ids, as they are for the client.  (Also applied to tables made by an earlier version of this file.)
ALTER TABLE `columns` MODIFY `id` VARCHAR(50) COLLATE utf8mb4_nopad_bin NOT NULL;
ALTER TABLE `swimlanes` MODIFY `id` VARCHAR(50) COLLATE utf8mb4_nopad_bin NOT NULL;

-- Name/value settings.  The row 'revision' is the board's revision number
-- (TaskBoardRevision options value name=revision); BIGINT so that it never wraps.
CREATE TABLE IF NOT EXISTS `options` (
    `name`  VARCHAR(50) NOT NULL,
    `value` BIGINT      NOT NULL,
    PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- IGNORE: a re-run must not reset the revision of a board that is in use.
INSERT IGNORE INTO `options` (`name`, `value`) VALUES ('revision', 1);

-- Retry records (TaskBoardRetryTables taskboard_phantoms taskboard_requests).  The module keeps
-- them so that a sync the client sends again is not applied twice: the phantom table maps each
-- added record's $PhantomId to the id it got (per table and per user: the authenticated user
-- who added it, '' without one), the request table keeps the answer to each requestId and body.
-- Rows older than the retention are pruned by the module.  Binary no-pad collation: phantom
-- ids, users and request ids are compared byte for byte.
CREATE TABLE IF NOT EXISTS `taskboard_phantoms` (
    `tbl`        VARCHAR(64)  NOT NULL,
    `phantom`    VARCHAR(191) NOT NULL,
    `user`       VARCHAR(255) NOT NULL DEFAULT '',
    `real_id`    VARCHAR(191) NOT NULL,
    `created_at` TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (`tbl`, `phantom`, `user`),
    KEY `idx_created` (`created_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- A phantom table of an earlier version (without `user`) gets the column and the wider key.
ALTER TABLE `taskboard_phantoms` ADD COLUMN IF NOT EXISTS
    `user` VARCHAR(255) NOT NULL DEFAULT '' AFTER `phantom`;
SET @tb_rekey = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `taskboard_phantoms` DROP PRIMARY KEY, '
                           'ADD PRIMARY KEY (`tbl`, `phantom`, `user`)', 'DO 0')
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
                 AND TABLE_NAME = 'taskboard_phantoms' AND INDEX_NAME = 'PRIMARY'
                 AND COLUMN_NAME = 'user');
PREPARE tb_rekey FROM @tb_rekey;
EXECUTE tb_rekey;
DEALLOCATE PREPARE tb_rekey;

CREATE TABLE IF NOT EXISTS `taskboard_requests` (
    `request_id` VARCHAR(64)  NOT NULL,
    `body_hash`  CHAR(40)     NOT NULL,
    `response`   MEDIUMTEXT   NOT NULL,
    `created_at` TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (`request_id`, `body_hash`),
    KEY `idx_created` (`created_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- The change journal (TaskBoardJournal taskboard_journal).  Every sync that changes the board writes
-- one row per record it added, updated or removed, under the revision it raised the board to, in
-- the same transaction.  From it the module answers "what changed since revision N" (deltas for
-- polling clients, record-level conflict checks, Server-Sent Events).  A revision without rows was
-- raised by another writer: the module then answers with a full load.  Rows older than the
-- retention are pruned by the module, whole revisions at a time.
CREATE TABLE IF NOT EXISTS `taskboard_journal` (
    `revision`   BIGINT       NOT NULL,
    `tbl`        VARCHAR(64)  NOT NULL,
    `record_id`  VARCHAR(191) NOT NULL,
    -- added, updated or removed
    `operation`  VARCHAR(8)   NOT NULL,
    `changed_at` TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (`revision`, `tbl`, `record_id`),
    KEY `idx_changed` (`changed_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
