-- Schema of many boards in the same tables (conf/taskboard-boards.conf): every table carries the
-- board's id in `board_id` (TaskBoardScope board_id ...), and the module adds "board_id = <the
-- request's board>" to every statement, so that no request reads or changes another board's rows.
--
-- Re-runnable like schema.sql.  The composite foreign keys (board_id, ...) make the database refuse
-- a reference across boards as well; the module checks references itself too, so that a schema
-- with plain foreign keys is safe.
--
-- The store tables are clustered by board: PRIMARY KEY (board_id, id) keeps a board's rows
-- together, so that a load reads them in one range instead of one primary-key lookup per row
-- (make -f Makefile.apxs bench-boards: 1.3 ms of MariaDB's CPU per load of a 1,000-task board
-- instead of 1.9 with a secondary key on board_id).  The ids stay unique on their own
-- (UNIQUE KEY (id)): the client knows records by id alone.

-- One row per board: its revision (TaskBoardRevision boards revision id), which is also how the
-- module knows that a board exists (a request for a board without a row gets 404, or 403 first
-- from TaskBoardAuthzQuery: board_access can only name boards that have their row here).
CREATE TABLE IF NOT EXISTS `boards` (
    `id`       INT          NOT NULL,
    `name`     VARCHAR(100) NOT NULL,
    `revision` BIGINT       NOT NULL DEFAULT 1,
    PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Who may do what on which board (TaskBoardAuthzQuery): 'read' or 'write'; no row, no access.
CREATE TABLE IF NOT EXISTS `board_access` (
    `board_id` INT          NOT NULL,
    `user`     VARCHAR(100) NOT NULL,
    `access`   VARCHAR(5)   NOT NULL,
    PRIMARY KEY (`board_id`, `user`),
    CONSTRAINT `fk_access_board` FOREIGN KEY (`board_id`) REFERENCES `boards` (`id`)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `board_tasks` (
    `id`        INT          NOT NULL AUTO_INCREMENT,
    `board_id`  INT          NOT NULL,
    `name`      VARCHAR(255) NOT NULL DEFAULT 'New task',
    `status`    VARCHAR(50)  NOT NULL DEFAULT 'todo',
    `weight`    INT          NULL DEFAULT 0,
    `parent_id` INT          NULL,
    `updated_by` VARCHAR(100) NULL,
    PRIMARY KEY (`board_id`, `id`),
    UNIQUE KEY `uk_board_tasks_id` (`id`),
    CONSTRAINT `fk_board_tasks_board` FOREIGN KEY (`board_id`) REFERENCES `boards` (`id`),
    CONSTRAINT `fk_board_tasks_parent` FOREIGN KEY (`board_id`, `parent_id`)
        REFERENCES `board_tasks` (`board_id`, `id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `board_resources` (
    `id`       INT          NOT NULL AUTO_INCREMENT,
    `board_id` INT          NOT NULL,
    `name`     VARCHAR(100) NOT NULL,
    PRIMARY KEY (`board_id`, `id`),
    UNIQUE KEY `uk_board_resources_id` (`id`),
    CONSTRAINT `fk_board_resources_board` FOREIGN KEY (`board_id`) REFERENCES `boards` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Plain foreign keys here on purpose: the module alone keeps assignments within their board.
CREATE TABLE IF NOT EXISTS `board_assignments` (
    `id`       INT NOT NULL AUTO_INCREMENT,
    `board_id` INT NOT NULL,
    `event`    INT NOT NULL,
    `resource` INT NOT NULL,
    PRIMARY KEY (`board_id`, `id`),
    UNIQUE KEY `uk_board_assignments_id` (`id`),
    CONSTRAINT `fk_board_assignments_task` FOREIGN KEY (`event`)
        REFERENCES `board_tasks` (`id`) ON DELETE CASCADE,
    CONSTRAINT `fk_board_assignments_resource` FOREIGN KEY (`resource`)
        REFERENCES `board_resources` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The retry tables and the journal of schema.sql, with the board in front of their keys.
CREATE TABLE IF NOT EXISTS `board_phantoms` (
    `board_id`   INT          NOT NULL,
    `tbl`        VARCHAR(64)  NOT NULL,
    `phantom`    VARCHAR(191) NOT NULL,
    `user`       VARCHAR(255) NOT NULL DEFAULT '',
    `real_id`    VARCHAR(191) NOT NULL,
    `created_at` TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (`board_id`, `tbl`, `phantom`, `user`),
    KEY `idx_created` (`created_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- A phantom table of an earlier version (without `user`) gets the column and the wider key.
ALTER TABLE `board_phantoms` ADD COLUMN IF NOT EXISTS
    `user` VARCHAR(255) NOT NULL DEFAULT '' AFTER `phantom`;
SET @tb_rekey = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `board_phantoms` DROP PRIMARY KEY, '
                           'ADD PRIMARY KEY (`board_id`, `tbl`, `phantom`, `user`)', 'DO 0')
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
                 AND TABLE_NAME = 'board_phantoms' AND INDEX_NAME = 'PRIMARY'
                 AND COLUMN_NAME = 'user');
PREPARE tb_rekey FROM @tb_rekey;
EXECUTE tb_rekey;
DEALLOCATE PREPARE tb_rekey;

CREATE TABLE IF NOT EXISTS `board_requests` (
    `board_id`   INT          NOT NULL,
    `request_id` VARCHAR(64)  NOT NULL,
    `body_hash`  CHAR(40)     NOT NULL,
    `response`   MEDIUMTEXT   NOT NULL,
    `created_at` TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (`board_id`, `request_id`, `body_hash`),
    KEY `idx_created` (`created_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `board_journal` (
    `board_id`   INT          NOT NULL,
    `revision`   BIGINT       NOT NULL,
    `tbl`        VARCHAR(64)  NOT NULL,
    `record_id`  VARCHAR(191) NOT NULL,
    `operation`  VARCHAR(8)   NOT NULL,
    `changed_at` TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (`board_id`, `revision`, `tbl`, `record_id`),
    KEY `idx_changed` (`changed_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
