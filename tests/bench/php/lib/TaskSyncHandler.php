<?php
// The seed guide's TaskSyncHandler.php, as the guide gives it.

namespace Bryntum\TaskBoard;

use const Bryntum\CRUD\ADDED_ROWS;
use const Bryntum\CRUD\UPDATED_ROWS;
use const Bryntum\CRUD\REMOVED_ROWS;

class TaskSyncHandler {

    private $app;
    private $db;
    private $phantomIdMap = [];

    public function __construct(TaskBoard $app) {
        $this->app = $app;
        $this->db = $app->db;
    }

    public function handle(array $data, int $mode, array &$response = []): array {

        // Process additions
        if ($mode & ADDED_ROWS && isset($data['added'])) {
            foreach ($data['added'] as $row) {
                $result = $this->addTask($row);
                $response['rows'][] = $result;

                // Track phantom ID mapping
                if (isset($row['$PhantomId'])) {
                    $this->phantomIdMap[$row['$PhantomId']] = $result['id'];
                }
            }
        }

        // Process updates
        if ($mode & UPDATED_ROWS && isset($data['updated'])) {
            foreach ($data['updated'] as $row) {
                $this->updateTask($row);
            }
        }

        // Process removals
        if ($mode & REMOVED_ROWS && isset($data['removed'])) {
            foreach ($data['removed'] as $row) {
                $this->removeTask($row['id']);
            }
        }

        return $response;
    }

    private function addTask(array $data): array {
        $stmt = $this->db->prepare("
            INSERT INTO tasks (name, description, status, prio, deadline, weight)
            VALUES (:name, :description, :status, :prio, :deadline, :weight)
        ");

        $stmt->execute([
            ':name' => $data['name'] ?? 'New Task',
            ':description' => $data['description'] ?? '',
            ':status' => $data['status'] ?? 'todo',
            ':prio' => $data['prio'] ?? 'medium',
            ':deadline' => $data['deadline'] ?? null,
            ':weight' => $data['weight'] ?? 0
        ]);

        $newId = $this->db->lastInsertId();

        $result = ['id' => (int)$newId];

        // Return phantom ID mapping
        if (isset($data['$PhantomId'])) {
            $result['$PhantomId'] = $data['$PhantomId'];
        }

        return $result;
    }

    private function updateTask(array $data): void {
        $id = $data['id'];
        unset($data['id']);

        // Filter alleen toegestane velden
        $allowedFields = ['name', 'description', 'status', 'prio', 'deadline', 'weight', 'eventColor', 'cls', 'iconCls'];

        $updates = [];
        $params = [':id' => $id];

        foreach ($data as $field => $value) {
            if (in_array($field, $allowedFields)) {
                $updates[] = "$field = :$field";
                $params[":$field"] = $value;
            }
        }

        if (empty($updates)) {
            return;
        }

        $sql = "UPDATE tasks SET " . implode(', ', $updates) . " WHERE id = :id";

        $stmt = $this->db->prepare($sql);
        $stmt->execute($params);
    }

    private function removeTask(int $id): void {
        // Cascade delete is handled by foreign keys
        $stmt = $this->db->prepare("DELETE FROM tasks WHERE id = :id");
        $stmt->execute([':id' => $id]);
    }

    public function getPhantomIdMap(): array {
        return $this->phantomIdMap;
    }
}
