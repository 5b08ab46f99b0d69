-- Resets the sample board to the board of the implementation guide: its 7 resources, 5 tasks,
-- 10 assignments and 4 columns ("Sample Data"), the 3 swimlanes of its TaskBoard configuration
-- (swimlaneField prio: every task is in one) and revision 1.  Load sql/schema.sql first.
--
-- Every row is inserted with an explicit id (the guide's, and for the assignments the ones its
-- AUTO_INCREMENT gives them) so that tests can rely on the ids.  The edge cases of each field
-- type (a NULL prio, a start_date, a JSON meta, a true boolean, a non-integral units value,
-- non-ASCII text) are the integration tests' own: tests/integration/sample_edges.sql.

START TRANSACTION;

-- Children before parents.  parent_id is cleared first so that deleting tasks does not cascade
-- through a deep tree: InnoDB refuses cascades deeper than 15 levels.
DELETE FROM `assignments`;
UPDATE `tasks` SET `parent_id` = NULL WHERE `parent_id` IS NOT NULL;
DELETE FROM `tasks`;
DELETE FROM `resources`;
DELETE FROM `columns`;
DELETE FROM `swimlanes`;
-- The retry records point at ids that are given out again from here on.
DELETE FROM `taskboard_phantoms`;
DELETE FROM `taskboard_requests`;
-- The journal describes revisions of the board that this reset throws away.
DELETE FROM `taskboard_journal`;

INSERT INTO `resources` (`id`, `name`, `email`, `image`, `role`, `active`) VALUES
    (1, 'Angelo', 'angelo@example.com', 'angelo.png', 'Developer', 1),
    (2, 'Celia',  'celia@example.com',  'celia.png',  'Designer',  1),
    (3, 'Dave',   'dave@example.com',   'dave.png',   'Developer', 1),
    (4, 'Emilia', 'emilia@example.com', 'emilia.png', 'Manager',   1),
    (5, 'Gloria', 'gloria@example.com', 'gloria.png', 'QA',        1),
    (6, 'Henrik', 'henrik@example.com', 'henrik.png', 'DevOps',    1),
    (7, 'Kate',   'kate@example.com',   'kate.png',   'Developer', 1);

INSERT INTO `tasks`
    (`id`, `name`, `description`, `status`, `prio`, `weight`, `deadline`, `start_date`,
     `event_color`, `read_only`, `parent_id`, `meta`) VALUES
    (1, 'Bug with rendering', 'Try it on any demo, reproduces easily', 'review', 'medium', 100,
        '2024-05-30', NULL, NULL, 0, NULL, NULL),
    (2, 'Add button to toolbar', 'Should look like a proper button', 'done', 'low', 200,
        '2024-08-29', NULL, NULL, 0, NULL, NULL),
    (3, 'Remove overflow', 'It is overflowing everywhere', 'doing', 'medium', 300,
        '2024-03-30', NULL, NULL, 0, NULL, NULL),
    (4, 'Write tests', 'Test coverage is approximately 5%', 'done', 'high', 400,
        '2024-03-30', NULL, NULL, 0, NULL, NULL),
    (5, 'Refactor base class', 'It is currently a mess', 'todo', 'low', 500,
        '2024-05-30', NULL, NULL, 0, NULL, NULL);

INSERT INTO `assignments` (`id`, `event`, `resource`, `units`) VALUES
    (1, 1, 1, 100.00), (2, 1, 5, 100.00),
    (3, 2, 2, 100.00), (4, 2, 6, 100.00),
    (5, 3, 3, 100.00), (6, 3, 7, 100.00),
    (7, 4, 1, 100.00), (8, 4, 4, 100.00),
    (9, 5, 2, 100.00), (10, 5, 3, 100.00);

INSERT INTO `columns` (`id`, `text`, `color`, `collapsed`, `weight`) VALUES
    ('todo',   'Backlog',     'purple', 0, 0),
    ('doing',  'In Progress', 'orange', 0, 1),
    ('review', 'Review',      'blue',   0, 2),
    ('done',   'Done',        'green',  0, 3);

-- the ids are the tasks' prio values
INSERT INTO `swimlanes` (`id`, `text`, `color`, `collapsed`, `weight`) VALUES
    ('high',   'High Priority',   'red',    0, 0),
    ('medium', 'Medium Priority', 'orange', 0, 1),
    ('low',    'Low Priority',    'green',  0, 2);

INSERT INTO `options` (`name`, `value`) VALUES ('revision', 1)
    ON DUPLICATE KEY UPDATE `value` = 1;

COMMIT;

-- Ids added after a reset continue at max(id) + 1: InnoDB raises a value below the largest id to
-- that.  ALTER TABLE commits implicitly, so it stays outside the transaction above.
ALTER TABLE `tasks` AUTO_INCREMENT = 1;
ALTER TABLE `resources` AUTO_INCREMENT = 1;
ALTER TABLE `assignments` AUTO_INCREMENT = 1;
