#!/usr/bin/env bash
# tbctl.sh: starts and stops the private MariaDB and httpd of mod_taskboard.
#
# The one piece of server control that `make demo/start/stop`, the integration tests and the
# benchmarks share, so that all of them start the servers the same way (each flag's reason is
# given where it is set).  Everything runs as root on loopback ports; processes are
# only ever stopped through their own pid files.
#
# Usage: tests/tbctl.sh COMMAND [ARGS]
#   deps                    install the missing Debian packages
#   deps-galera             and those of the Galera tests (haproxy, galera-4, rsync)
#   db-start | db-stop | db-kill
#   db-load [FILE.sql ...]  default: sql/schema.sql sql/sample.sql
#   db-sql [MARIADB-ARGS]   the mariadb client as root on the board's database
#   httpd-start DIR [URL] | httpd-stop DIR
#   render-demo | start | stop | demo | status
#
# Environment: TB_HTTP_PORT (8080), TB_DB_PORT (3307), TB_STATE_DIR (<repo>/state), TB_DB_NAME,
# TB_DB_USER, TB_DB_PASS (all three "taskboard"), TB_MODULE (<repo>/mod_taskboard/.libs/mod_taskboard.so),
# TB_HTTPD_PRELOAD (LD_PRELOAD for httpd only, used by the sanitizer run), TB_HTTPD_CORE_LIMIT
# (ulimit -c for httpd, used by the tests), TB_BRYNTUM_BUILD (a licensed Bryntum 5.6.x build
# folder: the demo serves it to its Gantt, Scheduler, Calendar and TaskBoard pages).

set -euo pipefail
# the httpd children run as www-data and must be able to read what we create
umask 022

TB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TB_HTTP_PORT=${TB_HTTP_PORT:-8080}
TB_DB_PORT=${TB_DB_PORT:-3307}
TB_STATE_DIR=${TB_STATE_DIR:-$TB_REPO/state}
TB_DB_NAME=${TB_DB_NAME:-taskboard}
TB_DB_USER=${TB_DB_USER:-taskboard}
TB_DB_PASS=${TB_DB_PASS:-taskboard}
TB_MODULE=${TB_MODULE:-$TB_REPO/mod_taskboard/.libs/mod_taskboard.so}

# pid files and the rendered config hold absolute paths, so a relative state dir is made absolute
case $TB_STATE_DIR in
    /*) ;;
    *) TB_STATE_DIR=$PWD/$TB_STATE_DIR ;;
esac
case $TB_MODULE in
    /*) ;;
    *) TB_MODULE=$PWD/$TB_MODULE ;;
esac

DB_DIR=$TB_STATE_DIR/mariadb
DB_SOCK=$DB_DIR/mysqld.sock
DB_PIDFILE=$DB_DIR/mysqld.pid
DB_LOG=$DB_DIR/error.log
DEMO_ROOT=$TB_STATE_DIR/httpd

# the build (apxs, jansson, the sanitizer runtimes), the servers, and the test and benchmark tools
# (chromium: the browser tests of the demo page, driven by playwright-core from tests/browser;
# gdb: the backtrace of a crashed httpd child's core, shown by the test during which it died)
DEPS=(gcc make pkg-config libasan8 libubsan1 libtsan2 clang libclang-rt-14-dev gdb
      apache2 apache2-dev libaprutil1-dbd-mysql libjansson-dev mariadb-server mariadb-client
      python3-pytest python3-requests python3-pymysql curl wrk libmariadb-dev zlib1g-dev
      chromium)
# Node.js and npm run the browser tests.  Any installed node will do: a machine may have another
# vendor's nodejs package, which bundles npm and conflicts with Debian's npm package, so these
# are only asked for when the command is missing.
DEPS_COMMANDS=(node:nodejs npm:npm)
# The Galera tests (tests/lib/galera.py, make test-galera): HAProxy in front of the cluster, the
# Galera 4 provider, rsync for the state transfers (SST), ss (iproute2) with which the SST script
# waits for its port.
GALERA_DEPS=(haproxy galera-4 rsync iproute2)

die() {
    echo "tbctl: $*" >&2
    exit 1
}

# Prints to stderr, for failures, the last lines of log file $1 that were written after byte
# offset $2 (its size before this start: the servers append to the logs of earlier runs).
show_log() {
    if [ -f "$1" ]; then
        echo "---- $1 ----" >&2
        tail -c "+$((${2:-0} + 1))" "$1" | tail -n 30 >&2
        echo "----" >&2
    fi
}

# Prints the size of file $1, 0 when there is none.
file_size() {
    stat -c %s "$1" 2>/dev/null || echo 0
}

# True while process $1 exists and is not a zombie.  kill -0 alone is not enough: in a container
# whose init does not reap orphans, a killed server stays a zombie forever.
pid_running() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state=$(sed -e 's/^.*) //' -e 's/ .*//' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$state" != Z ]
}

# Prints the pid from pid file $1 when that process runs and is named $2 (a recycled pid of some
# other program must not be signalled).  Fails otherwise.
pid_from_file() {
    local pid comm
    [ -f "$1" ] || return 1
    pid=$(tr -dc '0-9' 2>/dev/null < "$1") || return 1
    [ -n "$pid" ] || return 1
    pid_running "$pid" || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [ "$comm" = "$2" ] || return 1
    echo "$pid"
}

# Waits up to $2 seconds for process $1 to end.
wait_gone() {
    local deadline=$((SECONDS + $2))
    while pid_running "$1"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# Refuses values that cannot be written into SQL literals, sed replacements or DBDParams (whose
# values end at space , ; |) without quoting trouble.
check_settings() {
    [[ $TB_HTTP_PORT =~ ^[0-9]+$ ]] || die "TB_HTTP_PORT must be a number: $TB_HTTP_PORT"
    [[ $TB_DB_PORT =~ ^[0-9]+$ ]] || die "TB_DB_PORT must be a number: $TB_DB_PORT"
    [[ $TB_DB_NAME =~ ^[A-Za-z0-9_]+$ ]] || die "TB_DB_NAME may only hold A-Z a-z 0-9 _: $TB_DB_NAME"
    [[ $TB_DB_USER =~ ^[A-Za-z0-9_]+$ ]] || die "TB_DB_USER may only hold A-Z a-z 0-9 _: $TB_DB_USER"
    [[ $TB_DB_PASS =~ ^[A-Za-z0-9_.:@%+=/!#^*~-]+$ ]] \
        || die "TB_DB_PASS may only hold A-Z a-z 0-9 and _.:@%+=/!#^*~-"
}

# ---------------------------------------------------------------------------------------------
# packages

# Installs those of the Debian packages $@ that are missing (root only).
install_missing() {
    local pkg missing=()
    for pkg in "$@"; do
        if [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" != installed ]; then
            missing+=("$pkg")
        fi
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    [ "$(id -u)" -eq 0 ] || die "missing packages (install them as root): ${missing[*]}"
    echo "tbctl: installing ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

cmd_deps() {
    local pkg missing=()
    for pkg in "${DEPS_COMMANDS[@]}"; do
        command -v "${pkg%%:*}" > /dev/null 2>&1 || missing+=("${pkg#*:}")
    done
    install_missing "${DEPS[@]}" "${missing[@]}"
}

# The Galera tests (make test-galera) on top of deps: HAProxy, the Galera provider, and what the
# rsync SST needs.
cmd_deps_galera() {
    install_missing "${GALERA_DEPS[@]}"
}

# ---------------------------------------------------------------------------------------------
# MariaDB

# The mariadb client as root over the socket.  --no-defaults keeps /etc/mysql and ~/.my.cnf out;
# utf8mb4 so that the non-ASCII sample data arrives intact.
db_client() {
    mariadb --no-defaults --socket="$DB_SOCK" -uroot --default-character-set=utf8mb4 "$@"
}

db_require_running() {
    pid_from_file "$DB_PIDFILE" mariadbd >/dev/null \
        || die "mariadb is not running in $DB_DIR (run: $0 db-start)"
}

cmd_db_start() {
    local pid deadline logpos
    check_settings
    if pid=$(pid_from_file "$DB_PIDFILE" mariadbd); then
        echo "mariadb: 127.0.0.1:$TB_DB_PORT (pid $pid, already running)"
        return 0
    fi
    # a unix socket path longer than sun_path (108 bytes) makes mariadbd fail with an obscure error
    [ "${#DB_SOCK}" -lt 100 ] || die "state dir too deep for a unix socket: $DB_SOCK"
    mkdir -p "$DB_DIR"
    # a+rx adds, never removes: TB_STATE_DIR may be a shared folder such as /tmp
    chmod a+rx "$TB_STATE_DIR"
    chmod 755 "$DB_DIR"
    # leftovers of a killed server; mariadbd would otherwise warn about them
    rm -f "$DB_PIDFILE" "$DB_SOCK"
    logpos=$(file_size "$DB_LOG")

    if [ ! -d "$DB_DIR/data/mysql" ]; then
        # remove a half-initialised data dir so that the install starts clean
        rm -rf "$DB_DIR/data"
        if ! mariadb-install-db --no-defaults --user=root --datadir="$DB_DIR/data" \
                --auth-root-authentication-method=normal --skip-test-db \
                > "$DB_DIR/install.log" 2>&1; then
            show_log "$DB_DIR/install.log"
            rm -rf "$DB_DIR/data"
            die "mariadb-install-db failed"
        fi
    fi

    # setsid and the redirections detach the server from our terminal and from the caller's pipes:
    # a Ctrl-C must reach only the demo's trap, and a caller reading our output must not wait
    # for the server to close it.
    # Its own temporary folder: on-disk temporary tables (information_schema queries make
    # them) are files there, which nothing else on the machine may clean up under it.
    mkdir -p "$DB_DIR/tmp"
    setsid /usr/sbin/mariadbd --no-defaults --user=root \
        --datadir="$DB_DIR/data" --socket="$DB_SOCK" --pid-file="$DB_PIDFILE" \
        --tmpdir="$DB_DIR/tmp" \
        --port="$TB_DB_PORT" --bind-address=127.0.0.1 --log-error="$DB_LOG" \
        --skip-name-resolve --innodb-buffer-pool-size=64M --max-connections=300 \
        < /dev/null > "$DB_DIR/stdout.log" 2>&1 &
    # setsid does not fork here (a background child never leads its process group), so $! is
    # mariadbd itself
    pid=$!

    deadline=$((SECONDS + 30))
    until mariadb-admin --no-defaults --socket="$DB_SOCK" -uroot ping > /dev/null 2>&1; do
        if ! pid_running "$pid"; then
            show_log "$DB_LOG" "$logpos"
            show_log "$DB_DIR/stdout.log"
            die "mariadbd exited during start-up (port $TB_DB_PORT in use?)"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            show_log "$DB_LOG" "$logpos"
            kill -KILL "$pid" 2>/dev/null || true
            die "mariadbd did not answer within 30 s"
        fi
        sleep 0.1
    done

    # idempotent, so that a restart on an existing data dir is the same as a first start
    db_client <<SQL
CREATE DATABASE IF NOT EXISTS \`$TB_DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$TB_DB_USER'@'127.0.0.1' IDENTIFIED BY '$TB_DB_PASS';
CREATE USER IF NOT EXISTS '$TB_DB_USER'@'localhost' IDENTIFIED BY '$TB_DB_PASS';
ALTER USER '$TB_DB_USER'@'127.0.0.1' IDENTIFIED BY '$TB_DB_PASS';
ALTER USER '$TB_DB_USER'@'localhost' IDENTIFIED BY '$TB_DB_PASS';
GRANT ALL PRIVILEGES ON \`$TB_DB_NAME\`.* TO '$TB_DB_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`$TB_DB_NAME\`.* TO '$TB_DB_USER'@'localhost';
SQL
    echo "mariadb: 127.0.0.1:$TB_DB_PORT (pid $pid)"
}

cmd_db_load() {
    local f
    check_settings
    db_require_running
    if [ "$#" -eq 0 ]; then
        set -- "$TB_REPO/sql/schema.sql" "$TB_REPO/sql/sample.sql"
    fi
    for f in "$@"; do
        [ -r "$f" ] || die "cannot read $f"
        db_client --database="$TB_DB_NAME" < "$f" || die "loading $f failed"
    done
}

cmd_db_sql() {
    check_settings
    db_require_running
    db_client --database="$TB_DB_NAME" "$@"
}

cmd_db_stop() {
    local pid
    pid=$(pid_from_file "$DB_PIDFILE" mariadbd) || return 0
    mariadb-admin --no-defaults --socket="$DB_SOCK" -uroot shutdown > /dev/null 2>&1 || true
    if ! wait_gone "$pid" 30; then
        echo "tbctl: mariadbd $pid did not shut down in 30 s; sending TERM" >&2
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" 10; then
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 10 || die "mariadbd $pid survived KILL"
        fi
    fi
    rm -f "$DB_PIDFILE"
}

# For fault tests: the server dies as in a crash, InnoDB recovers on the next db-start.
cmd_db_kill() {
    local pid
    pid=$(pid_from_file "$DB_PIDFILE" mariadbd) || return 0
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "mariadbd $pid survived KILL"
    rm -f "$DB_PIDFILE" "$DB_SOCK"
}

# ---------------------------------------------------------------------------------------------
# httpd

# Prints the URL that answers once httpd listens: the first Listen line of the config.  A config
# that takes Listen from an Include needs the URL as httpd-start's second argument.
listen_url() {
    local addr
    addr=$(awk 'tolower($1) == "listen" { print $2; exit }' "$1")
    case $addr in
        "") return 1 ;;
        *:*) echo "http://$addr/" ;;
        *) echo "http://127.0.0.1:$addr/" ;;
    esac
}

# True when something answers HTTP at $1, whatever the status.
url_answers() {
    local code
    code=$(curl -s -g -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true)
    [ -n "$code" ] && [ "$code" != 000 ]
}

cmd_httpd_start() {
    local dir=${1:-} url=${2:-} conf pidfile errlog pid deadline rc logpos
    [ -n "$dir" ] || die "usage: $0 httpd-start DIR [URL]"
    [ -d "$dir" ] || die "no such directory: $dir"
    dir=$(cd "$dir" && pwd)
    conf=$dir/conf/httpd.conf
    pidfile=$dir/logs/httpd.pid
    errlog=$dir/logs/error_log
    [ -f "$conf" ] || die "no config: $conf"
    if [ -z "$url" ]; then
        url=$(listen_url "$conf") || die "no Listen line in $conf; pass the URL as second argument"
    fi
    if pid=$(pid_from_file "$pidfile" apache2); then
        echo "httpd: $url (pid $pid, already running)"
        return 0
    fi
    # otherwise the readiness check below would be answered by the other server
    ! url_answers "$url" || die "something else already answers at $url"
    mkdir -p "$dir/logs"
    rm -f "$pidfile"
    logpos=$(file_size "$errlog")

    rc=0
    # TB_HTTPD_CORE_LIMIT: ulimit -c for httpd (the tests: unlimited, so that a crashed child
    # leaves a core in the CoreDumpDirectory of their config)
    if [ -n "${TB_HTTPD_CORE_LIMIT:-}" ]; then
        ulimit -S -c "$TB_HTTPD_CORE_LIMIT" || die "ulimit -c $TB_HTTPD_CORE_LIMIT refused"
    fi
    # TB_HTTPD_PRELOAD: libraries preloaded into httpd, for the sanitizer run (make test-asan)
    LD_PRELOAD=${TB_HTTPD_PRELOAD:-} /usr/sbin/apache2 -d "$dir" -f "$conf" -k start \
        < /dev/null > "$dir/logs/startup.log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$dir/logs/startup.log" >&2
        show_log "$errlog" "$logpos"
        die "apache2 -k start failed (exit $rc)"
    fi

    # The parent detaches before it binds the port, so a bind error only shows as a missing pid
    # file or a pid that is gone.
    deadline=$((SECONDS + 20))
    while :; do
        if pid=$(pid_from_file "$pidfile" apache2) && url_answers "$url"; then
            break
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            cat "$dir/logs/startup.log" >&2
            show_log "$errlog" "$logpos"
            # do not leave a half-started server behind
            if pid=$(pid_from_file "$pidfile" apache2); then
                kill -TERM "$pid" 2>/dev/null || true
            fi
            die "httpd did not answer at $url within 20 s"
        fi
        sleep 0.1
    done
    echo "httpd: $url (pid $pid)"
}

cmd_httpd_stop() {
    local dir=${1:-} pidfile pid child children
    [ -n "$dir" ] || die "usage: $0 httpd-stop DIR"
    pidfile=$dir/logs/httpd.pid
    pid=$(pid_from_file "$pidfile" apache2) || return 0
    # TERM makes the parent stop its children and remove its pid file
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 20; then
        echo "tbctl: httpd $pid did not stop in 20 s; sending KILL" >&2
        # the children would outlive a killed parent, so they go first
        children=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
        for child in $children; do
            kill -KILL "$child" 2>/dev/null || true
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 10 || die "httpd $pid survived KILL"
    fi
    rm -f "$pidfile"
}

# Escapes a value for the replacement side of a sed s|...|...| command.
sed_escape() {
    printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'
}

cmd_render_demo() {
    local in=$TB_REPO/conf/demo.conf.in out=$DEMO_ROOT/conf/httpd.conf
    check_settings
    [ -r "$in" ] || die "cannot read $in"
    mkdir -p "$DEMO_ROOT/conf" "$DEMO_ROOT/logs" "$DEMO_ROOT/htdocs"
    chmod a+rx "$TB_STATE_DIR"
    chmod 755 "$DEMO_ROOT" "$DEMO_ROOT/conf" "$DEMO_ROOT/logs" "$DEMO_ROOT/htdocs"
    sed -e "s|@TB_HTTP_PORT@|$(sed_escape "$TB_HTTP_PORT")|g" \
        -e "s|@TB_DB_PORT@|$(sed_escape "$TB_DB_PORT")|g" \
        -e "s|@TB_DB_NAME@|$(sed_escape "$TB_DB_NAME")|g" \
        -e "s|@TB_DB_USER@|$(sed_escape "$TB_DB_USER")|g" \
        -e "s|@TB_DB_PASS@|$(sed_escape "$TB_DB_PASS")|g" \
        -e "s|@TB_MODULE@|$(sed_escape "$TB_MODULE")|g" \
        -e "s|@TB_SERVER_ROOT@|$(sed_escape "$DEMO_ROOT")|g" \
        -e "s|@TB_CONF_DIR@|$(sed_escape "$TB_REPO/conf")|g" \
        "$in" > "$out.tmp"
    if grep -n '@TB_[A-Z_]*@' "$out.tmp" >&2; then
        rm -f "$out.tmp"
        die "unknown placeholders left in $in"
    fi
    # rename, so that a running httpd never reads a half-written file on graceful restart
    mv -f "$out.tmp" "$out"
    # the demo page (conf/demo), copied so that www-data can read it wherever the checkout is
    mkdir -p "$DEMO_ROOT/htdocs/board"
    chmod 755 "$DEMO_ROOT/htdocs/board"
    install -m 644 "$TB_REPO"/conf/demo/* "$DEMO_ROOT/htdocs/board/"
    # the other products' sample pages, conf/demo-<product>/ as htdocs/<product>/
    local page name
    for page in "$TB_REPO"/conf/demo-*/; do
        [ -d "$page" ] || continue
        name=$(basename "$page")
        name=${name#demo-}
        mkdir -p "$DEMO_ROOT/htdocs/$name"
        chmod 755 "$DEMO_ROOT/htdocs/$name"
        install -m 644 "$page"* "$DEMO_ROOT/htdocs/$name/"
    done
    # Scheduler Pro's trial build from npm (`make deps` installs it for the browser tests): the
    # files its page loads, under htdocs/bryntum/schedulerpro/ where the page looks by default
    local trial=$TB_REPO/tests/browser/node_modules/@bryntum/schedulerpro-trial
    if [ -r "$trial/schedulerpro.module.js" ]; then
        mkdir -p "$DEMO_ROOT/htdocs/bryntum/schedulerpro"
        chmod 755 "$DEMO_ROOT/htdocs/bryntum" "$DEMO_ROOT/htdocs/bryntum/schedulerpro"
        cp -R -u "$trial/schedulerpro.module.js" "$trial/schedulerpro.css" \
            "$trial/svalbard-light.css" "$trial/fontawesome" "$trial/fonts" \
            "$DEMO_ROOT/htdocs/bryntum/schedulerpro/"
        chmod -R a+rX "$DEMO_ROOT/htdocs/bryntum"
    fi
    # A licensed Bryntum 5.6.x build of the administrator's (TB_BRYNTUM_BUILD, the folder with
    # thin/): its thin bundles under htdocs/bryntum/thin/, where the Gantt, Scheduler, Calendar
    # and TaskBoard pages look by default.  Never part of the repository.
    if [ -n "${TB_BRYNTUM_BUILD:-}" ]; then
        [ -r "$TB_BRYNTUM_BUILD/thin/taskboard.module.thin.js" ] \
            || die "TB_BRYNTUM_BUILD=$TB_BRYNTUM_BUILD has no thin/taskboard.module.thin.js"
        mkdir -p "$DEMO_ROOT/htdocs/bryntum"
        cp -R -u "$TB_BRYNTUM_BUILD/thin" "$DEMO_ROOT/htdocs/bryntum/"
        chmod -R a+rX "$DEMO_ROOT/htdocs/bryntum"
    fi
}

# Loads the other products' samples (sql/schedulerpro.sql, ...) into a database that does not
# have them yet: their scripts recreate their tables, which would drop what the users changed.
load_product_samples() {
    local name
    for name in schedulerpro gantt scheduler; do
        [ -r "$TB_REPO/sql/$name.sql" ] || continue
        [ -e "$DB_DIR/loaded-$name" ] && continue
        cmd_db_load "$TB_REPO/sql/$name.sql"
        touch "$DB_DIR/loaded-$name"
    done
}

# ---------------------------------------------------------------------------------------------
# the demo

cmd_start() {
    local count load
    [ -f "$TB_MODULE" ] || die "module not built: $TB_MODULE (run: make -f Makefile.apxs)"
    cmd_db_start
    # the schema is re-runnable; the sample data only goes into a fresh database so that a restart
    # keeps what the board's users changed
    cmd_db_load "$TB_REPO/sql/schema.sql"
    count=$(db_client --database="$TB_DB_NAME" -N -B -e 'SELECT COUNT(*) FROM tasks')
    if [ "$count" = 0 ]; then
        cmd_db_load "$TB_REPO/sql/sample.sql"
    fi
    load_product_samples
    cmd_render_demo
    # DBDParams cannot give the MySQL client a connect or read timeout; group=taskboard in the
    # demo's DBDParams makes it read them from the [taskboard] group of $MARIADB_HOME/my.cnf
    # (without, a database that dies mid-handshake can hang an httpd process for good).
    mkdir -p "$TB_STATE_DIR/mariadb-client"
    chmod a+rx "$TB_STATE_DIR/mariadb-client"
    printf '[taskboard]\nconnect-timeout=5\nread-timeout=60\nwrite-timeout=60\n' \
        > "$TB_STATE_DIR/mariadb-client/my.cnf"
    export MARIADB_HOME=$TB_STATE_DIR/mariadb-client
    cmd_httpd_start "$DEMO_ROOT" "http://127.0.0.1:$TB_HTTP_PORT/"
    # the load package {"type":"load","requestId":1,"stores":["tasks","resources","assignments"]}
    load='%7B%22type%22%3A%22load%22%2C%22requestId%22%3A1%2C%22stores%22%3A%5B%22tasks%22%2C%22resources%22%2C%22assignments%22%5D%7D'
    cat <<EOF

board: http://127.0.0.1:$TB_HTTP_PORT/board/   (the demo page: drag cards, add, rename, delete; open it twice to see changes live)
spro:  http://127.0.0.1:$TB_HTTP_PORT/schedulerpro/   (Bryntum Scheduler Pro, npm trial build, on sql/schedulerpro.sql)
gantt: http://127.0.0.1:$TB_HTTP_PORT/gantt/ and /scheduler/, /calendar/, /taskboard/   (Bryntum 5.6 pages: they need TB_BRYNTUM_BUILD=<your build folder>)
load: http://127.0.0.1:$TB_HTTP_PORT/api/load
sync: http://127.0.0.1:$TB_HTTP_PORT/api/sync
live: curl -sN http://127.0.0.1:$TB_HTTP_PORT/api/events   (one event per new revision; see docs/protocol.md "Live boards")
stat: http://127.0.0.1:$TB_HTTP_PORT/taskboard-status   (counters per location; ?json)
try:  curl -s 'http://127.0.0.1:$TB_HTTP_PORT/api/load?data=$load'
save: curl -s http://127.0.0.1:$TB_HTTP_PORT/api/sync -H 'Content-Type: application/json' -d '{"type":"sync","requestId":2,"tasks":{"added":[{"\$PhantomId":"t1","name":"Write the docs"}]},"resources":{"added":[{"\$PhantomId":"r1","name":"Nora"}]},"assignments":{"added":[{"\$PhantomId":"a1","eventId":"t1","resourceId":1},{"\$PhantomId":"a2","eventId":"t1","resourceId":"r1"}]}}'
logs: $DEMO_ROOT/logs/error_log
EOF
}

cmd_stop() {
    cmd_httpd_stop "$DEMO_ROOT"
    cmd_db_stop
}

on_demo_signal() {
    # a second Ctrl-C must not interrupt the shutdown
    trap '' INT TERM
    echo
    echo "stopping..."
    cmd_stop
    exit 0
}

cmd_demo() {
    # a start that fails half-way must not leave MariaDB running
    trap 'cmd_stop || true' EXIT
    cmd_start
    trap - EXIT
    trap on_demo_signal INT TERM
    echo
    echo "running; press Ctrl-C to stop"
    while :; do
        sleep 1
    done
}

cmd_status() {
    local pid
    if pid=$(pid_from_file "$DB_PIDFILE" mariadbd); then
        echo "mariadb: running, 127.0.0.1:$TB_DB_PORT (pid $pid)"
    else
        echo "mariadb: stopped"
    fi
    if pid=$(pid_from_file "$DEMO_ROOT/logs/httpd.pid" apache2); then
        echo "httpd:   running, http://127.0.0.1:$TB_HTTP_PORT/ (pid $pid)"
    else
        echo "httpd:   stopped"
    fi
}

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

main() {
    local cmd=${1:-}
    [ "$#" -eq 0 ] || shift
    case $cmd in
        deps) cmd_deps ;;
        deps-galera) cmd_deps_galera ;;
        db-start) cmd_db_start ;;
        db-load) cmd_db_load "$@" ;;
        db-sql) cmd_db_sql "$@" ;;
        db-stop) cmd_db_stop ;;
        db-kill) cmd_db_kill ;;
        httpd-start) cmd_httpd_start "$@" ;;
        httpd-stop) cmd_httpd_stop "$@" ;;
        render-demo) cmd_render_demo ;;
        start) cmd_start ;;
        stop) cmd_stop ;;
        demo) cmd_demo ;;
        status) cmd_status ;;
        *) usage ;;
    esac
}

main "$@"
