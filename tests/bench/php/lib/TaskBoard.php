<?php
// Gap filled: the guide lists lib/TaskBoard.php but does not give it.  What load.php, sync.php
// and init.php call on it, with the guide's own SQL wherever it gives some:
// - the revision: its RevisionManager ("Revision Management"), word for word;
// - the stores: the SQL of its Node.js backend ("Express.js Implementation": SELECT * FROM
//   tasks ORDER BY weight, resources WHERE active = true, all assignments), with
//   SQL_CALC_FOUND_ROWS for getFoundRows(), the only way its name and use (called right after
//   getResources() and getTasks()) make sense;
// - the connection: a plain PDO (no options: PHP 8's PDO throws on errors by default, and
//   emulates prepared statements for MySQL), one per request, as init.php creates it;
// - resetDatabase(): for the guide's demo only, not used by the bench: it refuses.
// Rows come back as PDO gives them (every value a string), as the guide's code sends them.

namespace Bryntum\TaskBoard;

class TaskBoard {

    public $db;

    public function __construct(string $dsn, string $user, string $password) {
        $this->db = new \PDO($dsn, $user, $password);
    }

    public function getResources(): array {
        return $this->db->query("SELECT SQL_CALC_FOUND_ROWS * FROM resources WHERE active = true")
            ->fetchAll(\PDO::FETCH_ASSOC);
    }

    public function getTasks(): array {
        return $this->db->query("SELECT SQL_CALC_FOUND_ROWS * FROM tasks ORDER BY weight")
            ->fetchAll(\PDO::FETCH_ASSOC);
    }

    public function getAssignments(): array {
        return $this->db->query("SELECT * FROM assignments")->fetchAll(\PDO::FETCH_ASSOC);
    }

    public function getColumns(): array {
        return $this->db->query("SELECT * FROM columns ORDER BY weight")
            ->fetchAll(\PDO::FETCH_ASSOC);
    }

    public function getFoundRows(): int {
        return (int)$this->db->query("SELECT FOUND_ROWS()")->fetchColumn();
    }

    // RevisionManager of the guide
    public function getRevision(): int {
        $stmt = $this->db->query("SELECT value FROM options WHERE name = 'revision'");
        return (int)$stmt->fetchColumn();
    }

    public function incrementRevision(): int {
        $this->db->exec("UPDATE options SET value = value + 1 WHERE name = 'revision'");
        return $this->getRevision();
    }

    public function checkRevision(int $clientRevision): void {
        $serverRevision = $this->getRevision();

        if ($clientRevision < $serverRevision) {
            throw new \Exception(
                'Data has been modified by another user. Please reload.',
                409  // Conflict
            );
        }
    }

    public function resetDatabase(): void {
        throw new \Exception('reset is not supported by the bench', 400);
    }
}
