#!/usr/bin/env bash
# make_board.sh N: prints SQL that replaces the board in the sample schema (sql/schema.sql) by a
# generated one: N tasks, N/10 resources (at least 2, at most 1,000) and two assignments per task.
# Values vary so that every field type, NULLs and non-ASCII text are in the answer.  It uses
# MariaDB's built-in sequence tables (seq_1_to_N), so the rows are made inside the server.
set -euo pipefail
n=${1:?usage: make_board.sh TASKS}
case $n in *[!0-9]*|'') echo "make_board.sh: TASKS must be a number" >&2; exit 1 ;; esac
r=$(( n / 10 )); [ "$r" -lt 2 ] && r=2; [ "$r" -gt 1000 ] && r=1000

cat <<SQL
SET FOREIGN_KEY_CHECKS = 0;
TRUNCATE TABLE assignments;
TRUNCATE TABLE tasks;
TRUNCATE TABLE resources;
TRUNCATE TABLE taskboard_phantoms;
TRUNCATE TABLE taskboard_requests;
SET FOREIGN_KEY_CHECKS = 1;

INSERT INTO resources (id, name, email, image, role, active)
SELECT seq, CONCAT('Resource ', seq), CONCAT('r', seq, '@example.com'), CONCAT('r', seq, '.png'),
       ELT(1 + seq % 4, 'Developer', 'Designer', 'Manager', 'QA'), seq % 7 <> 0
FROM seq_1_to_${r};

INSERT INTO tasks (id, name, description, status, prio, weight, deadline, start_date,
                   event_color, read_only, meta)
SELECT seq, CONCAT('Task ', seq), CONCAT('Generated task ', seq, ' – größer, "quoted"'),
       ELT(1 + seq % 4, 'todo', 'doing', 'review', 'done'),
       IF(seq % 13 = 0, NULL, ELT(1 + seq % 3, 'high', 'medium', 'low')),
       seq * 10, DATE_ADD('2024-01-01', INTERVAL seq % 365 DAY),
       IF(seq % 2 = 0, TIMESTAMPADD(MINUTE, seq, '2024-01-01 08:00:00'), NULL),
       IF(seq % 5 = 0, 'red', NULL), seq % 11 = 0,
       IF(seq % 3 = 0, JSON_OBJECT('n', seq, 'tags', JSON_ARRAY('a', 'b')), NULL)
FROM seq_1_to_${n};

INSERT INTO assignments (event, resource, units)
SELECT seq, 1 + seq % ${r}, 100 FROM seq_1_to_${n}
UNION ALL
SELECT seq, 1 + (seq + 1) % ${r}, 50.5 FROM seq_1_to_${n};

UPDATE options SET value = value + 1 WHERE name = 'revision';
SQL
