-- The edge cases of each field type, put on the sample board after sql/sample.sql (the guide's
-- board, which has none) for the test classes that check how such a value comes back
-- (SAMPLE_EDGES = True, README.md "Test classes").  The revision stays the one sample.sql set:
-- this is part of the same reset, not a change to the board.

START TRANSACTION;

-- a colour: the string of a card's own colour
UPDATE `tasks` SET `event_color` = 'red' WHERE `id` = 1;
-- prio NULL: the card is in no swimlane, and the load must send null
UPDATE `tasks` SET `prio` = NULL WHERE `id` = 2;
-- a DATETIME (sent as UTC with Z) and a JSON value (embedded as JSON, not as a string)
UPDATE `tasks` SET `start_date` = '2024-03-01 09:30:00',
                   `meta` = '{"estimate": 3, "tags": ["css", "layout"]}' WHERE `id` = 3;
-- a true boolean
UPDATE `tasks` SET `read_only` = 1 WHERE `id` = 4;
-- non-ASCII text
UPDATE `tasks` SET `description` = 'Refactor base class — it is currently a mess (größer)'
    WHERE `id` = 5;
-- a DECIMAL other than the column's default 100.00 (sent as a JSON number)
UPDATE `assignments` SET `units` = 50.00 WHERE `id` = 8;

COMMIT;
