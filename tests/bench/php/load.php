<?php
// The seed guide's load.php, as the guide gives it.

namespace Bryntum\TaskBoard;

header('Content-Type: application/json');

try {
    require 'init.php';

    // Decode request
    $requestData = $_GET['data'] ?? '{}';
    $request = json_decode($requestData, true);

    $response = [
        'success' => true,
        'requestId' => $request['requestId'] ?? null
    ];

    // Handle reset option (for demo purposes)
    if (isset($request['reset']) && $request['reset']) {
        $app->resetDatabase();
        $response['reset'] = true;
    }

    // Parse requested stores
    $storeParams = [];
    foreach (($request['stores'] ?? []) as $store) {
        if (is_array($store)) {
            $storeParams[$store['storeId']] = $store;
        } else {
            $storeParams[$store] = $store;
        }
    }

    // Load resources
    if (isset($storeParams['resources'])) {
        $response['resources'] = [
            'rows' => $app->getResources(),
            'total' => $app->getFoundRows()
        ];
    }

    // Load tasks
    if (isset($storeParams['tasks'])) {
        $response['tasks'] = [
            'rows' => $app->getTasks(),
            'total' => $app->getFoundRows()
        ];
    }

    // Load assignments
    if (isset($storeParams['assignments'])) {
        $response['assignments'] = [
            'rows' => $app->getAssignments()
        ];
    }

    // Load columns (if stored in DB)
    if (isset($storeParams['columns'])) {
        $response['columns'] = [
            'rows' => $app->getColumns()
        ];
    }

    // Return current revision
    $response['revision'] = $app->getRevision();

    echo json_encode($response);

} catch (\Exception $e) {
    http_response_code(500);
    echo json_encode([
        'success' => false,
        'message' => $e->getMessage(),
        'code' => $e->getCode()
    ]);
}
