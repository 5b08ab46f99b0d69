<?php
// Gap filled: the guide lists ResourceSyncHandler.php but does not give it; this is its
// TaskSyncHandler with the resources table's columns.  The bench never sends resources.

namespace Bryntum\TaskBoard;

use const Bryntum\CRUD\ADDED_ROWS;
use const Bryntum\CRUD\UPDATED_ROWS;
use const Bryntum\CRUD\REMOVED_ROWS;

class ResourceSyncHandler {

    private $db;

    public function __construct(TaskBoard $app) {
        $this->db = $app->db;
    }

    public function handle(array $data, int $mode, array &$response = []): array {
        if ($mode & ADDED_ROWS && isset($data['added'])) {
            foreach ($data['added'] as $row) {
                $stmt = $this->db->prepare("
                    INSERT INTO resources (name, email, image, role)
                    VALUES (:name, :email, :image, :role)
                ");
                $stmt->execute([
                    ':name' => $row['name'] ?? 'New Resource',
                    ':email' => $row['email'] ?? null,
                    ':image' => $row['image'] ?? null,
                    ':role' => $row['role'] ?? null
                ]);
                $result = ['id' => (int)$this->db->lastInsertId()];
                if (isset($row['$PhantomId'])) {
                    $result['$PhantomId'] = $row['$PhantomId'];
                }
                $response['rows'][] = $result;
            }
        }

        if ($mode & UPDATED_ROWS && isset($data['updated'])) {
            $allowedFields = ['name', 'email', 'image', 'role', 'active'];
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
                    $this->db->prepare("UPDATE resources SET " . implode(', ', $updates)
                        . " WHERE id = :id")->execute($params);
                }
            }
        }

        if ($mode & REMOVED_ROWS && isset($data['removed'])) {
            foreach ($data['removed'] as $row) {
                $this->db->prepare("DELETE FROM resources WHERE id = :id")
                    ->execute([':id' => $row['id']]);
            }
        }

        return $response;
    }
}
