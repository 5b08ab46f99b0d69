<?php
// The seed guide's config.php ("PHP Backend Implementatie"), filled in for the bench.
//
// Gap filled: the guide's constants name a fixed server and database.  The bench's MariaDB is
// private (its own unix socket under the bench's state dir) and the 8-board scenario runs eight
// copies of this backend, each on its own database; the private httpd hands both to PHP with
// SetEnv (TB_PHP_SOCKET, TB_PHP_DBNAME, TB_PHP_USER, TB_PHP_PASS).  host=localhost as in the
// guide: PDO's MySQL driver then connects over the unix socket, named by unix_socket=.

define('DBHOST', 'localhost');
define('DBUSERNAME', $_SERVER['TB_PHP_USER'] ?? 'root');
define('DBUSERPASSWORD', $_SERVER['TB_PHP_PASS'] ?? 'password');
define('DBNAME', $_SERVER['TB_PHP_DBNAME'] ?? 'taskboard');

define('DSN', 'mysql:host=' . DBHOST . ';unix_socket=' . ($_SERVER['TB_PHP_SOCKET'] ?? '')
    . ';dbname=' . DBNAME . ';charset=utf8mb4');
