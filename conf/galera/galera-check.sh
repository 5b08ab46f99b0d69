#!/bin/sh
# HAProxy external-check for a MariaDB Galera node (haproxy.cfg): success only when the node is
# Synced (wsrep_local_state = 4), the one state in which it serves the board's queries.  Joining,
# Donor/Desynced, non-Primary, or no answer within 2 s: failure, HAProxy sends no connection to it.
#
# HAProxy calls it with: <proxy address> <proxy port> <server address> <server port>.
# The check user needs no privilege on any table; create it once on the cluster (replicated):
#     CREATE USER 'haproxy_check'@'10.0.0.%';      -- the HAProxy machines' addresses
#     GRANT USAGE ON *.* TO 'haproxy_check'@'10.0.0.%';
# It has no password and can only log in and read server status; give it one and add
# --password=... below if your policy asks for it.

host=$3
port=$4
state=$(mariadb --no-defaults --connect-timeout=2 --protocol=tcp -h "$host" -P "$port" \
        -u haproxy_check --batch --skip-column-names \
        -e "SHOW GLOBAL STATUS LIKE 'wsrep_local_state'" 2>/dev/null | cut -f2)
[ "$state" = 4 ]
