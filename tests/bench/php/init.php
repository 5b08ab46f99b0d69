<?php
// The seed guide's init.php, as the guide gives it (the session included: every request
// starts one, with the files handler; the bench's clients keep one session per connection).

namespace Bryntum\TaskBoard;

require_once './config.php';
require_once './lib/crud.php';
require_once './lib/TaskBoard.php';
require_once './lib/TaskSyncHandler.php';
require_once './lib/ResourceSyncHandler.php';
require_once './lib/AssignmentSyncHandler.php';

ini_set('session.gc_maxlifetime', 14400);

if (!session_id()) {
    session_start();
}

$app = new TaskBoard(DSN, DBUSERNAME, DBUSERPASSWORD);

if (!isset($app)) {
    http_response_code(500);
    die(json_encode([
        'success' => false,
        'message' => 'Database connection error'
    ]));
}
