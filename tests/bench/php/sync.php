<?php
// The seed guide's sync.php, as the guide gives it (its ADDED_ROWS, UPDATED_ROWS and REMOVED_ROWS
// come from lib/crud.php, which init.php loads).

namespace Bryntum\TaskBoard;

use const Bryntum\CRUD\ADDED_ROWS;
use const Bryntum\CRUD\UPDATED_ROWS;
use const Bryntum\CRUD\REMOVED_ROWS;

header('Content-Type: application/json');

try {
    require 'init.php';

    // Read POST body
    $input = file_get_contents('php://input');
    $request = json_decode($input, true);

    if (json_last_error() !== JSON_ERROR_NONE) {
        throw new \Exception('Invalid JSON in request body', 400);
    }

    $response = [
        'success' => true,
        'requestId' => $request['requestId'] ?? null
    ];

    // Begin transaction
    $app->db->beginTransaction();

    try {
        // Check revision (optimistic locking)
        if (isset($request['revision'])) {
            $app->checkRevision($request['revision']);
        }

        // Initialize handlers
        $resourceHandler = null;
        $taskHandler = null;
        $assignmentHandler = null;

        // Process resources (add/update first)
        if (isset($request['resources'])) {
            $resourceHandler = new ResourceSyncHandler($app);
            $response['resources'] = $resourceHandler->handle(
                $request['resources'],
                ADDED_ROWS | UPDATED_ROWS
            );
        }

        // Process tasks
        if (isset($request['tasks'])) {
            $taskHandler = new TaskSyncHandler($app);
            $response['tasks'] = $taskHandler->handle(
                $request['tasks'],
                ADDED_ROWS | UPDATED_ROWS
            );
        }

        // Process assignments
        if (isset($request['assignments'])) {
            $assignmentHandler = new AssignmentSyncHandler($app);
            $response['assignments'] = $assignmentHandler->handle(
                $request['assignments'],
                ADDED_ROWS | UPDATED_ROWS
            );
        }

        // Process removals (in reverse order)
        if ($assignmentHandler) {
            $assignmentHandler->handle($request['assignments'], REMOVED_ROWS, $response['assignments']);
        }

        if ($taskHandler) {
            $taskHandler->handle($request['tasks'], REMOVED_ROWS, $response['tasks']);
        }

        if ($resourceHandler) {
            $resourceHandler->handle($request['resources'], REMOVED_ROWS, $response['resources']);
        }

        // Cleanup empty responses
        foreach (['resources', 'tasks', 'assignments'] as $store) {
            if (isset($response[$store]) && empty($response[$store])) {
                unset($response[$store]);
            }
        }

        // Commit transaction
        $app->db->commit();

        // Return new revision
        $response['revision'] = $app->incrementRevision();

        echo json_encode($response);

    } catch (\Exception $e) {
        $app->db->rollBack();
        throw $e;
    }

} catch (\Exception $e) {
    $code = $e->getCode() ?: 500;
    http_response_code($code);

    echo json_encode([
        'success' => false,
        'message' => $e->getMessage(),
        'code' => $code
    ]);
}
