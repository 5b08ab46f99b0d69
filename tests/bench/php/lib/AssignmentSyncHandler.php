<?php
// Gap filled: the guide lists AssignmentSyncHandler.php but does not give it; this is its
// TaskSyncHandler with the assignments table's columns (event, resource, units, as in the
// guide's schema and load answer).  Like the guide's sync.php, it does not turn a task's
// $PhantomId in `event` into the new task's id.  The bench never sends assignments.

namespace Bryntum\TaskBoard;

use const Bryntum\CRUD\ADDED_ROWS;
use const Bryntum\CRUD\UPDATED_ROWS;
use const Bryntum\CRUD\REMOVED_ROWS;

class AssignmentSyncHandler {

    private $db;

    public function __construct(TaskBoard $app) {
        $this->db = $app->db;
    }

    public function handle(array $data, int $mode, array &$response = []): array {
        if ($mode & ADDED_ROWS && isset($data['added'])) {
            foreach ($data['added'] as $row) {
                $stmt = $this->db->prepare("
                    INSERT INTO assignments (event, resource, units)
                    VALUES (:event, :resource, :units)
                ");
                $stmt->execute([
                    ':event' => $row['event'] ?? null,
                    ':resource' => $row['resource'] ?? null,
                    ':units' => $row['units'] ?? 100
                ]);
                $result = ['id' => (int)$this->db->lastInsertId()];
                if (isset($row['$PhantomId'])) {
                    $result['$PhantomId'] = $row['$PhantomId'];
                }
                $response['rows'][] = $result;
            }
        }

        if ($mode & UPDATED_ROWS && isset($data['updated'])) {
            $allowedFields = ['event', 'resource', 'units'];
            foreach ($data['updated'] as $row) {
                $updates = [];
                $params = [':id' => $row['id']];
                foreach ($row as $field => $value) {
                    if (in_array($field, $allowedFields)) {
                        $updates[] = "$field = :$field";
                        $params[":$field"] = $value;
                    }
                }
                if ($updates) {
                    $this->db->prepare("UPDATE assignments SET " . implode(', ', $updates)
                        . " WHERE id = :id")->execute($params);
                }
            }
        }

        if ($mode & REMOVED_ROWS && isset($data['removed'])) {
            foreach ($data['removed'] as $row) {
                $this->db->prepare("DELETE FROM assignments WHERE id = :id")
                    ->execute([':id' => $row['id']]);
            }
        }

        return $response;
    }
}
