/* sync_direct: the direct-SQL baseline of the sync benchmark (tests/bench/bench.py).
 *
 * N threads, each with its own connection to MariaDB over TCP, run for T seconds (or N syncs
 * each, --syncs) the same statements and the same transaction that mod_taskboard issues for one
 * sync of a scenario (read from MariaDB's general log), as prepared statements prepared once per
 * connection:
 *
 *   move   one card move (status and weight of one task)
 *   add    a new card with one assignment
 *   batch  2 added tasks, 6 updated tasks, 2 removed tasks (added by this thread earlier)
 *
 * Every sync: the replay lookup in the request table (autocommit), SET TRANSACTION ISOLATION LEVEL
 * READ COMMITTED and START TRANSACTION, the revision read as last committed (no lock), the
 * removals (children and assignments looked up FOR UPDATE, then the DELETEs), the additions
 * (phantom lookup, INSERT ... RETURNING the row, phantom record), the updates (row locked, the
 * store's one UPDATE, row read back), then, if the sync changed something, the revision row locked
 * (FOR UPDATE), the journal rows of the changed records (TaskBoardJournal: 16 rows per INSERT
 * while at least 16 remain, then 4, then one per row), the revision raised, the answer recorded,
 * COMMIT.  The records of a store share one UPDATE, as the module's do: a field that only some of
 * them send (the batch's name, sent by its added tasks, which a resend would update, and weight)
 * is written `col = IF(?, ?, col)`, with a flag and a value (NULL when the flag is 0).
 *
 * Stale revisions, as the module handles them with a journal: every sync carries the highest
 * revision its client has seen, and the threads are split into --clients groups that share that
 * revision, as the connections of one wrk thread share sync.lua's maxrev.  When the revision read
 * is newer than the client's, the module reads the journal rows in between right after it; when
 * the revision row, once locked, has moved on since the read and the client is behind it, it reads
 * them again up to the locked revision: a row of those committed meanwhile that names a record this
 * sync updated or removed makes the whole sync run again (after a pause, as a lost deadlock).  If
 * the rows cover every revision, every record they name that this sync did not change is read
 * (after the revision is raised, before the answer is recorded) to send it along; so does this
 * program, with the same statements.
 *
 * Prints one line:  TB transactions=N seconds=S tps=X p50_ms=A p99_ms=B retries=R
 *                   setup_questions=Q setup_prepares=P stale=S journal_reads=J caught_up=C
 * where retries counts the runs that lost (a deadlock, or others' commits on this sync's records)
 * and ran again, stale the committed syncs whose revision was behind, journal_reads the reads of
 * the journal rows of others' revisions, caught_up the records of others read into answers;
 * and setup_* are what connecting and disconnecting add to the server's Questions and
 * Com_stmt_prepare counters (SET NAMES, the batch's seed INSERTs, COM_QUIT; the prepares,
 * which MariaDB does not count as Questions), for a caller that reads the counters around the
 * run and leaves them out.
 *
 * Build: cc -O2 -o sync_direct sync_direct.c $(pkg-config --cflags --libs libmariadb) -lpthread
 */

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>

#define TASK_COLS "`id`,`name`,`description`,`status`,`prio`,`weight`,`deadline`,`start_date`," \
                  "`event_color`,`read_only`,`parent_id`,`meta`"
#define ASSIGN_COLS "`id`,`event`,`resource`,`units`"

enum {
    S_REPLAY, S_REV_READ, S_REV_LOCK, S_REV_BUMP, S_RECORD,
    S_TASK_LOCK, S_TASK_UPDATE, S_TASK_UPDATE_SOME, S_TASK_READ, S_TASK_READS, S_ASSIGN_READS,
    S_PHANTOM_FIND, S_PHANTOM_ADD, S_TASK_INSERT, S_ASSIGN_INSERT,
    S_TASK_CHILDREN, S_TASK_ASSIGNS, S_TASK_DELETE,
    S_JOURNAL_ONE, S_JOURNAL_FEW, S_JOURNAL_BATCH, S_JOURNAL_SINCE,
    S_COUNT
};

/* The module's TB_JOURNAL_BATCH, TB_JOURNAL_FEW and TB_JOURNAL_MAX_READ (tb_model.h) */
#define JOURNAL_BATCH 16
#define JOURNAL_FEW 4
#define JOURNAL_MAX_READ 10000

#define JOURNAL_INSERT "INSERT INTO `taskboard_journal` (`revision`, `tbl`, `record_id`, `operation`) VALUES "
#define JOURNAL_DUP " ON DUPLICATE KEY UPDATE `operation` = VALUES(`operation`)"
#define T4 "(?,?,?,?)"
#define SELECT_IDS 16       /* the module's TB_SELECT_IDS */
#define IDS16 "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?"
#define T16 T4 "," T4 "," T4 "," T4 "," T4 "," T4 "," T4 "," T4 "," \
            T4 "," T4 "," T4 "," T4 "," T4 "," T4 "," T4 "," T4

static const char *const SQL[S_COUNT] = {
    [S_REPLAY] = "SELECT `response` FROM `taskboard_requests` WHERE `request_id` = ? AND `body_hash` = ?",
    [S_REV_READ] = "SELECT `value` FROM `options` WHERE `name` = ?",
    [S_REV_LOCK] = "SELECT `value` FROM `options` WHERE `name` = ? FOR UPDATE",
    [S_REV_BUMP] = "UPDATE `options` SET `value` = `value` + 1 WHERE `name` = ?",
    [S_RECORD] = "INSERT IGNORE INTO `taskboard_requests` (`request_id`, `body_hash`, `response`) "
                 "VALUES (?, ?, ?)",
    [S_TASK_LOCK] = "SELECT " TASK_COLS " FROM `tasks` WHERE `id` = ? FOR UPDATE",
    /* the store's one UPDATE of a sync whose records all send status and weight (move) */
    [S_TASK_UPDATE] = "UPDATE `tasks` SET `status` = ?,`weight` = ? WHERE `id` = ?",
    /* ... and of the batch's: its added tasks (which a resend would update) send name and status,
     * its updated ones status and weight, so name and weight are flagged */
    [S_TASK_UPDATE_SOME] = "UPDATE `tasks` SET `name` = IF(?, ?, `name`),`status` = ?,"
                           "`weight` = IF(?, ?, `weight`) WHERE `id` = ?",
    [S_TASK_READ] = "SELECT " TASK_COLS " FROM `tasks` WHERE `id` = ?",
    /* the module's sql_select_ids: TB_SELECT_IDS ids, the last repeated to fill the list */
    [S_TASK_READS] = "SELECT " TASK_COLS " FROM `tasks` WHERE `id` IN (" IDS16 ")",
    [S_ASSIGN_READS] = "SELECT " ASSIGN_COLS " FROM `assignments` WHERE `id` IN (" IDS16 ")",
    /* `user`: the module keeps phantom ids per authenticated user ('' without one) */
    [S_PHANTOM_FIND] = "SELECT `real_id` FROM `taskboard_phantoms` WHERE `tbl` = ? AND `phantom` = ? "
                       "AND `user` = ?",
    [S_PHANTOM_ADD] = "INSERT INTO `taskboard_phantoms` (`tbl`, `phantom`, `user`, `real_id`) "
                      "VALUES (?, ?, ?, ?)",
    /* the new id and the row as stored, in one round trip */
    [S_TASK_INSERT] = "INSERT INTO `tasks` (`name`,`status`) VALUES (?,?) RETURNING " TASK_COLS,
    [S_ASSIGN_INSERT] = "INSERT INTO `assignments` (`event`,`resource`) VALUES (?,?) RETURNING "
                        ASSIGN_COLS,
    [S_TASK_CHILDREN] = "SELECT `id` FROM `tasks` WHERE `parent_id` = ? FOR UPDATE",
    [S_TASK_ASSIGNS] = "SELECT `id` FROM `assignments` WHERE `event` = ? FOR UPDATE",
    [S_TASK_DELETE] = "DELETE FROM `tasks` WHERE `id` = ?",
    [S_JOURNAL_ONE] = JOURNAL_INSERT T4 JOURNAL_DUP,
    [S_JOURNAL_FEW] = JOURNAL_INSERT T4 "," T4 "," T4 "," T4 JOURNAL_DUP,
    [S_JOURNAL_BATCH] = JOURNAL_INSERT T16 JOURNAL_DUP,
    [S_JOURNAL_SINCE] = "SELECT `revision`, `tbl`, `record_id`, `operation` FROM `taskboard_journal` "
                        "WHERE `revision` > ? AND `revision` <= ? ORDER BY `revision` "
                        "LIMIT 10001",     /* JOURNAL_MAX_READ + 1: one more tells it was cut */
};

#define MAX_PARAMS (4 * JOURNAL_BATCH)
#define MAX_COLS 16
#define COL_SIZE 1024
#define RESPONSE_SIZE (1 << 20)     /* stale syncs carry others' rows along */
#define MAX_WRITTEN 64

/* The module's TB_SYNC_ATTEMPTS, TB_SYNC_FIRST_PAUSE and TB_SYNC_LAST_PAUSE (tb_sync_apply.c): a
 * run that lost runs again after a pause drawn between half a bound and the bound, which doubles
 * from the first pause to the last. */
#define SYNC_ATTEMPTS 10
#define FIRST_PAUSE_US 4000
#define LAST_PAUSE_US 256000

static const char *const STATUSES[] = {"todo", "doing", "review", "done"};

/* The settings, from the command line. */
static struct {
    const char *host, *user, *password, *database, *scenario;
    unsigned port;
    int threads, seconds, tasks, resources, nonce, clients, syncs;
    long long revision;
    const char *socket;         /* a unix socket: host and port unused */
} opt = {"127.0.0.1", "taskboard", "taskboard", "taskboard", "move", 3306, 1, 3, 1000, 100, 0, 0, 0, 0,
         NULL};

/* A statement parameter: an integer, a string or NULL. */
typedef struct {
    enum { P_INT, P_STR, P_NULL } kind;
    long long i;
    const char *s;
} param_t;

#define INT(v) ((param_t){P_INT, (v), NULL})
#define STR(v) ((param_t){P_STR, 0, (v)})
#define NUL ((param_t){P_NULL, 0, NULL})

/* A journal row: one that this sync writes, or one of others' that it read. */
typedef struct {
    long long revision;
    char table[64];
    char id[192];
    char operation[12];
} entry_t;

/* The highest revision each client (group of threads) has seen in an answer: sync.lua's maxrev,
 * shared by the connections of one wrk thread. */
static long long *client_revision;
static pthread_mutex_t client_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    int index;
    int client;                         /* which entry of client_revision */
    MYSQL *db;
    MYSQL_STMT *stmt[S_COUNT];
    char cols[MAX_COLS][COL_SIZE];      /* the current row, every column as text */
    unsigned long col_len[MAX_COLS];
    my_bool col_null[MAX_COLS];
    char response[RESPONSE_SIZE];       /* the answer being built */
    size_t response_len;
    long long n;                        /* syncs started by this thread */
    long long k;                        /* tasks updated by this thread */
    long long first, span;              /* the tasks this thread updates */
    long long removable[2];             /* the ids of the tasks added by the last batch */
    entry_t written[MAX_WRITTEN];       /* this sync's journal rows, in the module's order */
    int nwritten;
    entry_t touched[MAX_WRITTEN];       /* the records it updated or removed (the module's
                                           touch()), operation unused */
    int ntouched;
    unsigned seed;                      /* of the pauses after a lost run */
    entry_t *others;                    /* the journal rows since the client's revision */
    size_t nothers, others_cap;
    int has_others;                     /* they cover every revision: send the records along */
    long long stale, journal_reads, caught_up;
    double *latency;                    /* ms per committed sync */
    size_t count, cap;
    long long retries;                  /* runs that lost and ran again */
} worker_t;

/* ready: every thread is connected and prepared; go: the deadline is set */
static pthread_barrier_t ready, go;
static struct timespec deadline;

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("sync_direct: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Appends to the answer being built. */
static void respond(worker_t *w, const char *fmt, ...)
{
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(w->response + w->response_len, RESPONSE_SIZE - w->response_len, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= RESPONSE_SIZE - w->response_len) {
        die("answer longer than %d bytes", RESPONSE_SIZE);
    }
    w->response_len += (size_t)len;
}

/* Thrown to the transaction's caller on a deadlock or lock wait timeout. */
#define RETRY 1

/* Called for each row a SELECT fetches, with its columns in w->cols. */
typedef void (*on_row_t)(worker_t *w, unsigned ncols);

/* Runs statement s with its parameters; a SELECT's rows are all fetched, every column as text,
 * and handed to on_row (may be NULL).  With row_out, the last row is appended to the answer as a
 * JSON object of the column names.  Returns the number of rows read (or affected), -RETRY on a
 * deadlock; dies on other errors. */
static long long run_rows(worker_t *w, int s, int nparams, const param_t *params, int row_out,
                          on_row_t on_row)
{
    MYSQL_STMT *st = w->stmt[s];
    MYSQL_BIND bind[MAX_PARAMS], result[MAX_COLS];
    unsigned long len[MAX_PARAMS];
    MYSQL_RES *meta;
    long long rows = 0;
    int i, rc;

    memset(bind, 0, sizeof(bind));
    for (i = 0; i < nparams; i++) {
        if (params[i].kind == P_NULL) {
            bind[i].buffer_type = MYSQL_TYPE_NULL;
        }
        else if (params[i].kind == P_STR) {
            len[i] = strlen(params[i].s);
            bind[i].buffer_type = MYSQL_TYPE_STRING;
            bind[i].buffer = (void *)params[i].s;
            bind[i].buffer_length = len[i];
            bind[i].length = &len[i];
        }
        else {
            bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
            bind[i].buffer = (void *)&params[i].i;
        }
    }
    if (mysql_stmt_bind_param(st, bind) || mysql_stmt_execute(st)) {
        unsigned err = mysql_stmt_errno(st);
        if (err == 1213 || err == 1205) {
            return -RETRY;
        }
        die("%s: [%u] %s", SQL[s], err, mysql_stmt_error(st));
    }
    meta = mysql_stmt_result_metadata(st);
    if (!meta) {
        return (long long)mysql_stmt_affected_rows(st);
    }
    unsigned ncols = mysql_num_fields(meta);
    MYSQL_FIELD *fields = mysql_fetch_fields(meta);
    if (ncols > MAX_COLS) {
        die("%s: more than %d columns", SQL[s], MAX_COLS);
    }
    memset(result, 0, sizeof(result));
    for (i = 0; i < (int)ncols; i++) {
        result[i].buffer_type = MYSQL_TYPE_STRING;
        result[i].buffer = w->cols[i];
        result[i].buffer_length = COL_SIZE - 1;
        result[i].length = &w->col_len[i];
        result[i].is_null = &w->col_null[i];
    }
    if (mysql_stmt_bind_result(st, result)) {
        die("%s: [%u] %s", SQL[s], mysql_stmt_errno(st), mysql_stmt_error(st));
    }
    while ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
        rows++;
        for (i = 0; i < (int)ncols; i++) {
            unsigned long l = w->col_len[i] < COL_SIZE - 1 ? w->col_len[i] : COL_SIZE - 1;
            w->cols[i][l] = '\0';
        }
        if (on_row) {
            on_row(w, ncols);
        }
    }
    if (rc != MYSQL_NO_DATA) {
        unsigned err = mysql_stmt_errno(st);
        mysql_free_result(meta);
        mysql_stmt_free_result(st);
        if (err == 1213 || err == 1205) {
            return -RETRY;
        }
        die("%s: fetch: [%u] %s", SQL[s], err, mysql_stmt_error(st));
    }
    if (row_out && rows > 0) {
        for (i = 0; i < (int)ncols; i++) {
            respond(w, i ? ",\"%s\":" : "{\"%s\":", fields[i].name);
            respond(w, w->col_null[i] ? "null" : "\"%s\"", w->cols[i]);
        }
        respond(w, "}");
    }
    mysql_free_result(meta);
    mysql_stmt_free_result(st);
    return rows;
}

static long long run(worker_t *w, int s, int nparams, const param_t *params, int row_out)
{
    return run_rows(w, s, nparams, params, row_out, NULL);
}

#define RUN(w, s, row_out, ...) do { \
        const param_t p_[] = {__VA_ARGS__}; \
        if (run((w), (s), (int)(sizeof(p_) / sizeof(p_[0])), p_, (row_out)) == -RETRY) { \
            return -RETRY; \
        } \
    } while (0)

static int query(worker_t *w, const char *sql)
{
    if (mysql_query(w->db, sql)) {
        unsigned err = mysql_errno(w->db);
        if (err == 1213 || err == 1205) {
            return -RETRY;
        }
        die("%s: [%u] %s", sql, err, mysql_error(w->db));
    }
    return 0;
}

/* Remembers a record this sync changed, for the journal (the module's note()). */
static void note(worker_t *w, const char *table, long long id, const char *operation)
{
    entry_t *e;

    if (w->nwritten == MAX_WRITTEN) {
        die("more than %d changed records in one sync", MAX_WRITTEN);
    }
    e = &w->written[w->nwritten++];
    snprintf(e->table, sizeof(e->table), "%s", table);
    snprintf(e->id, sizeof(e->id), "%lld", id);
    snprintf(e->operation, sizeof(e->operation), "%s", operation);
}

/* Remembers a record this sync updated or removed (the module's touch()): others' commits of it
 * between the revision read and the revision lock make the sync run again. */
static void touch(worker_t *w, const char *table, long long id)
{
    entry_t *e;

    if (w->ntouched == MAX_WRITTEN) {
        die("more than %d touched records in one sync", MAX_WRITTEN);
    }
    e = &w->touched[w->ntouched++];
    snprintf(e->table, sizeof(e->table), "%s", table);
    snprintf(e->id, sizeof(e->id), "%lld", id);
}

static int lists(const entry_t *list, int n, const char *table, const char *id)
{
    int i;

    for (i = 0; i < n; i++) {
        if (!strcmp(list[i].table, table) && !strcmp(list[i].id, id)) {
            return 1;
        }
    }
    return 0;
}

/* Writes this sync's journal rows under revision, as tb_journal_write does: JOURNAL_BATCH rows
 * per INSERT while at least that many remain, then JOURNAL_FEW, then one INSERT per row. */
static int write_journal(worker_t *w, long long revision)
{
    param_t p[MAX_PARAMS];
    char rev[24];
    int at, n, i;

    snprintf(rev, sizeof(rev), "%lld", revision);
    for (at = 0; at < w->nwritten; at += n) {
        n = w->nwritten - at;
        n = n >= JOURNAL_BATCH ? JOURNAL_BATCH : n >= JOURNAL_FEW ? JOURNAL_FEW : 1;
        for (i = 0; i < n; i++) {
            const entry_t *e = &w->written[at + i];
            p[4 * i] = STR(rev);
            p[4 * i + 1] = STR(e->table);
            p[4 * i + 2] = STR(e->id);
            p[4 * i + 3] = STR(e->operation);
        }
        if (run(w, n == JOURNAL_BATCH ? S_JOURNAL_BATCH : n == JOURNAL_FEW ? S_JOURNAL_FEW
                   : S_JOURNAL_ONE, 4 * n, p, 0) == -RETRY) {
            return -RETRY;
        }
    }
    return 0;
}

static void take_other(worker_t *w, unsigned ncols)
{
    entry_t *e;

    (void)ncols;
    if (w->nothers == w->others_cap) {
        w->others_cap = w->others_cap ? 2 * w->others_cap : 256;
        if (!(w->others = realloc(w->others, w->others_cap * sizeof(*w->others)))) {
            die("out of memory");
        }
    }
    e = &w->others[w->nothers++];
    e->revision = atoll(w->cols[0]);
    /* the columns are VARCHAR(64), VARCHAR(191) and VARCHAR(8) */
    snprintf(e->table, sizeof(e->table), "%.63s", w->cols[1]);
    snprintf(e->id, sizeof(e->id), "%.191s", w->cols[2]);
    snprintf(e->operation, sizeof(e->operation), "%.11s", w->cols[3]);
}

/* The client's revision is behind the board's: the journal rows of the revisions in between
 * (tb_journal_since: in check_policy up to the revision read, in lock_revision again up to the
 * locked one when it moved on meanwhile).  They are sent along when every revision has rows. */
static int read_others(worker_t *w, long long since, long long upto)
{
    char from[24], to[24];
    long long last = since, revisions = 0;
    size_t i;

    snprintf(from, sizeof(from), "%lld", since);
    snprintf(to, sizeof(to), "%lld", upto);
    w->nothers = 0;
    if (run_rows(w, S_JOURNAL_SINCE, 2, (param_t[]){STR(from), STR(to)}, 0, take_other) < 0) {
        return -RETRY;
    }
    for (i = 0; i < w->nothers; i++) {
        if (w->others[i].revision != last) {
            last = w->others[i].revision;
            revisions++;
        }
    }
    w->has_others = w->nothers <= JOURNAL_MAX_READ && revisions == upto - since;
    w->journal_reads++;
    return 0;
}

/* Reads the records of ids (n of them) SELECT_IDS at a time, as the module's fill_store does;
 * the ids not found are removed ones. */
static int read_records(worker_t *w, int select, const char **ids, int n)
{
    param_t p[SELECT_IDS];
    long long rows;
    int at, i, m;

    for (at = 0; at < n; at += m) {
        m = n - at < SELECT_IDS ? n - at : SELECT_IDS;
        for (i = 0; i < SELECT_IDS; i++) {
            p[i] = STR(ids[at + (i < m ? i : m - 1)]);
        }
        if ((rows = run(w, select, SELECT_IDS, p, 1)) < 0) {
            return -RETRY;
        }
        for (i = 0; i < m - rows; i++) {
            respond(w, "%s{\"removed\":true}", w->response[w->response_len - 1] == '[' ? "" : ",");
        }
    }
    return 0;
}

/* Sends along, as it is now, every record the others' journal rows name that this sync did not
 * update or remove (tb_journal_fill, which skips the module's touched records): by store,
 * parents first, each record once.  (Records this sync added are new: no journal row of others
 * names them.) */
static int fill_others(worker_t *w)
{
    static const struct {
        const char *table;
        int select;
    } stores[] = {{"tasks", S_TASK_READS}, {"assignments", S_ASSIGN_READS}};
    const char **ids = malloc((w->nothers + 1) * sizeof(*ids));
    size_t i, j;
    int k, n, rc = 0;

    for (i = 0; i < w->nothers; i++) {
        for (k = 0; k < 2 && strcmp(w->others[i].table, stores[k].table); k++) {
        }
        if (k == 2) {
            die("the journal names table %s, which this program does not read",
                w->others[i].table);
        }
    }
    respond(w, ",\"others\":[");
    for (k = 0; k < 2; k++) {
        for (n = 0, i = 0; i < w->nothers; i++) {
            const entry_t *e = &w->others[i];
            if (strcmp(e->table, stores[k].table) != 0) {
                continue;
            }
            for (j = 0; j < i; j++) {
                if (!strcmp(w->others[j].table, e->table) && !strcmp(w->others[j].id, e->id)) {
                    break;
                }
            }
            if (j < i || lists(w->touched, w->ntouched, e->table, e->id)) {
                continue;       /* read already, or touched by this sync */
            }
            w->caught_up++;
            ids[n++] = e->id;
        }
        if (n && (rc = read_records(w, stores[k].select, ids, n)) < 0) {
            break;
        }
    }
    free(ids);
    if (rc < 0) {
        return rc;
    }
    respond(w, "]");
    return 0;
}

/* Checks the removal of task id: its subtasks and assignments, locked. */
static int remove_lookups(worker_t *w, long long id)
{
    RUN(w, S_TASK_CHILDREN, 0, INT(id));
    RUN(w, S_TASK_ASSIGNS, 0, INT(id));
    return 0;
}

/* Inserts a record whose $PhantomId is phantom into table (with insert, which RETURNs the row,
 * and its parameters): the row goes into the answer; then records the phantom id.  Returns the new
 * id. */
static long long add_record(worker_t *w, const char *table, const char *phantom, int insert,
                            int nparams, const param_t *params)
{
    char id_text[24];
    long long id, rows;

    respond(w, "{\"$PhantomId\":\"%s\",\"row\":", phantom);
    RUN(w, S_PHANTOM_FIND, 0, STR(table), STR(phantom), STR(""));
    if ((rows = run(w, insert, nparams, params, 1)) < 0) {
        return -RETRY;
    }
    if (rows != 1) {
        die("%s: returned %lld rows", SQL[insert], rows);
    }
    id = atoll(w->cols[0]);
    snprintf(id_text, sizeof(id_text), "%lld", id);
    RUN(w, S_PHANTOM_ADD, 0, STR(table), STR(phantom), STR(""), STR(id_text));
    respond(w, "}");
    note(w, table, id, "added");
    return id;
}

static long long add_task(worker_t *w, const char *phantom)
{
    char name[64];

    snprintf(name, sizeof(name), "Bench card %lld", w->n);
    const param_t p[] = {STR(name), STR("todo")};
    return add_record(w, "tasks", phantom, S_TASK_INSERT, 2, p);
}

/* Locks, updates and reads back the next task of this thread, through the store's one UPDATE of
 * this sync: status and weight; in a batch name (its added tasks' field, not sent: flag 0,
 * NULL), status, weight (flag 1, the value). */
static int update_task(worker_t *w)
{
    long long id, rows;

    w->k++;
    id = w->first + w->k % w->span;
    RUN(w, S_TASK_LOCK, 0, INT(id));
    /* a weight no earlier run has written: every update really changes its row */
    const char *status = STATUSES[w->k % 4];
    long long weight = opt.nonce * 100000LL + w->n;
    if (strcmp(opt.scenario, "batch") == 0) {
        const param_t p[] = {INT(0), NUL, STR(status), INT(1), INT(weight), INT(id)};
        rows = run(w, S_TASK_UPDATE_SOME, 6, p, 0);
    }
    else {
        const param_t p[] = {STR(status), INT(weight), INT(id)};
        rows = run(w, S_TASK_UPDATE, 3, p, 0);
    }
    if (rows < 0) {
        return -RETRY;
    }
    if (rows > 0) {
        note(w, "tasks", id, "updated");
    }
    touch(w, "tasks", id);
    RUN(w, S_TASK_READ, 0, INT(id));
    return 0;
}

static void phantom_id(worker_t *w, char *buf, size_t size, const char *prefix)
{
    snprintf(buf, size, "%s%d_%d_%lld", prefix, opt.nonce, w->index, w->n);
}

/* The changes of one sync of the scenario, inside the transaction. */
static int changes(worker_t *w)
{
    char task[64], other[64];
    long long id;
    int i;

    if (strcmp(opt.scenario, "move") == 0) {
        return update_task(w);
    }
    if (strcmp(opt.scenario, "add") == 0) {
        phantom_id(w, task, sizeof(task), "t");
        respond(w, ",\"tasks\":[");
        if ((id = add_task(w, task)) < 0) {
            return -RETRY;
        }
        phantom_id(w, other, sizeof(other), "a");
        respond(w, "],\"assignments\":[");
        const param_t p[] = {INT(id), INT(1 + w->n % opt.resources)};
        if (add_record(w, "assignments", other, S_ASSIGN_INSERT, 2, p) < 0) {
            return -RETRY;
        }
        respond(w, "]");
        return 0;
    }
    /* batch: removals first (lookups, then the deletes), then additions, then updates */
    for (i = 0; i < 2; i++) {
        if (remove_lookups(w, w->removable[i]) < 0) {
            return -RETRY;
        }
    }
    for (i = 0; i < 2; i++) {
        const param_t p[] = {INT(w->removable[i])};
        long long rows = run(w, S_TASK_DELETE, 1, p, 0);
        if (rows < 0) {
            return -RETRY;
        }
        if (rows > 0) {
            note(w, "tasks", w->removable[i], "removed");
        }
        touch(w, "tasks", w->removable[i]);
    }
    respond(w, ",\"tasks\":[");
    phantom_id(w, task, sizeof(task), "bx");
    phantom_id(w, other, sizeof(other), "by");
    long long added[2];
    if ((added[0] = add_task(w, task)) < 0) {
        return -RETRY;
    }
    respond(w, ",");
    if ((added[1] = add_task(w, other)) < 0) {
        return -RETRY;
    }
    respond(w, "]");
    for (i = 0; i < 6; i++) {
        if (update_task(w) < 0) {
            return -RETRY;
        }
    }
    /* the next batch removes these two, once this one has committed */
    w->removable[0] = added[0];
    w->removable[1] = added[1];
    return 0;
}

/* Puts the answer's head (printf-style) before what is in it already: the revision it names is
 * known only once the changes are made. */
static void prepend(worker_t *w, const char *fmt, ...)
{
    char head[256];
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof(head) || w->response_len + len >= RESPONSE_SIZE) {
        die("answer longer than %d bytes", RESPONSE_SIZE);
    }
    memmove(w->response + len, w->response, w->response_len);
    memcpy(w->response, head, (size_t)len);
    w->response_len += (size_t)len;
    w->response[w->response_len] = '\0';
}

/* After the changes, as the module's lock_revision: the revision row locked; when it moved on
 * since *revision was read and the client is behind it, the journal rows up to it are read again,
 * and a sync committed meanwhile that changed a record this one touched makes it run again.
 * *revision gets the locked revision. */
static int lock_revision(worker_t *w, long long seen, long long *revision)
{
    const param_t name[] = {STR("revision")};
    long long read = *revision;
    size_t i;

    RUN(w, S_REV_LOCK, 0, name[0]);
    *revision = atoll(w->cols[0]);
    if (*revision == read || seen <= 0 || seen >= *revision) {
        return 0;
    }
    if (read_others(w, seen, *revision) < 0) {
        return -RETRY;
    }
    for (i = 0; w->has_others && i < w->nothers; i++) {
        const entry_t *e = &w->others[i];
        if (e->revision > read && lists(w->touched, w->ntouched, e->table, e->id)) {
            return -RETRY;
        }
    }
    return 0;
}

/* One run of the sync's transaction (the module's apply_once); *revision gets the board's
 * revision before this sync's raise.  Returns -RETRY when it lost: a deadlock, or others' commits
 * on its records. */
static int transaction(worker_t *w, const char *request_id, const char *body_hash, long long seen,
                       long long *revision)
{
    const param_t name[] = {STR("revision")};
    int rc;

    w->nwritten = 0;
    w->ntouched = 0;
    w->has_others = 0;
    w->response_len = 0;
    /* read committed (for this transaction only): the revision read sees every sync committed
     * before it, and so does the lock's read after the changes */
    if (query(w, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED") < 0
        || query(w, "START TRANSACTION") < 0) {
        return -RETRY;
    }
    RUN(w, S_REV_READ, 0, name[0]);
    *revision = atoll(w->cols[0]);
    if (seen > 0 && seen < *revision && (rc = read_others(w, seen, *revision)) < 0) {
        return rc;
    }
    if ((rc = changes(w)) < 0) {
        return rc;
    }
    if (w->nwritten > 0) {
        /* the journal rows, just before the revision is raised, as the module writes them */
        if ((rc = lock_revision(w, seen, revision)) < 0
            || (rc = write_journal(w, *revision + 1)) < 0
            || (rc = (int)run(w, S_REV_BUMP, 1, name, 0)) < 0) {
            return rc;
        }
    }
    prepend(w, "{\"success\":true,\"type\":\"sync\",\"requestId\":%s,\"revision\":%lld",
            request_id, *revision + (w->nwritten > 0));
    if (w->has_others && (rc = fill_others(w)) < 0) {
        return rc;
    }
    respond(w, "}");
    const param_t record[] = {STR(request_id), STR(body_hash), STR(w->response)};
    if ((rc = (int)run(w, S_RECORD, 3, record, 0)) < 0 || (rc = query(w, "COMMIT")) < 0) {
        return rc;
    }
    return 0;
}

/* The module's pause_after_conflict: before run attempt + 1. */
static void pause_after_loss(worker_t *w, int attempt)
{
    long bound = FIRST_PAUSE_US, us;
    struct timespec ts;

    while (--attempt > 0 && bound < LAST_PAUSE_US) {
        bound *= 2;
    }
    if (bound > LAST_PAUSE_US) {
        bound = LAST_PAUSE_US;
    }
    us = bound / 2 + (long)(rand_r(&w->seed) % (unsigned)(bound / 2 + 1));
    ts.tv_sec = us / 1000000;
    ts.tv_nsec = (us % 1000000) * 1000;
    nanosleep(&ts, NULL);
}

/* One sync: the replay lookup, then the transaction, run again (after a pause) while it loses, up
 * to SYNC_ATTEMPTS runs. */
static void sync_once(worker_t *w)
{
    char request_id[32], body_hash[48];
    long long saved_k = w->k, saved_removable[2] = {w->removable[0], w->removable[1]};
    long long seen = 0, revision = 0;
    int attempt;

    w->n++;
    if (opt.revision > 0) {
        /* what the client sends: the highest revision it has seen in an answer */
        pthread_mutex_lock(&client_lock);
        seen = client_revision[w->client];
        pthread_mutex_unlock(&client_lock);
    }
    snprintf(request_id, sizeof(request_id), "%lld",
             20000000000000LL + opt.nonce * 1000000000LL + w->index * 100000000LL + w->n);
    snprintf(body_hash, sizeof(body_hash), "%040llx", (unsigned long long)w->n * 2654435761ULL);
    if (run(w, S_REPLAY, 2, (param_t[]){STR(request_id), STR(body_hash)}, 0) < 0) {
        die("thread %d: the replay lookup lost to a deadlock", w->index);
    }
    for (attempt = 1; transaction(w, request_id, body_hash, seen, &revision) < 0; attempt++) {
        mysql_rollback(w->db);
        w->k = saved_k;
        w->removable[0] = saved_removable[0];
        w->removable[1] = saved_removable[1];
        if (attempt >= SYNC_ATTEMPTS) {
            die("thread %d: a sync lost %d times in a row", w->index, attempt);
        }
        w->retries++;
        pause_after_loss(w, attempt);
    }
    if (seen > 0) {
        w->stale += seen < revision;
        pthread_mutex_lock(&client_lock);
        if (client_revision[w->client] < revision + (w->nwritten > 0)) {
            client_revision[w->client] = revision + (w->nwritten > 0);
        }
        pthread_mutex_unlock(&client_lock);
    }
}

static void connect_worker(worker_t *w)
{
    int s;

    if (!(w->db = mysql_init(NULL))) {
        die("mysql_init failed");
    }
    mysql_options(w->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(w->db, opt.socket ? "localhost" : opt.host, opt.user, opt.password,
                            opt.database, opt.port, opt.socket, 0)) {
        die("connect: %s", mysql_error(w->db));
    }
    /* what the demo's DBDInitSQL runs on every pooled connection */
    if (query(w, "SET NAMES utf8mb4, time_zone = '+00:00'") < 0) {
        die("SET NAMES failed");
    }
    for (s = 0; s < S_COUNT; s++) {
        if (!(w->stmt[s] = mysql_stmt_init(w->db))
            || mysql_stmt_prepare(w->stmt[s], SQL[s], strlen(SQL[s]))) {
            die("prepare %s: %s", SQL[s], mysql_error(w->db));
        }
    }
    if (strcmp(opt.scenario, "batch") == 0) {
        /* two tasks for the first batch to remove, made before the clock runs */
        char name[64];
        snprintf(name, sizeof(name), "Bench seed %d_%d", opt.nonce, w->index);
        for (s = 0; s < 2; s++) {
            const param_t p[] = {STR(name), STR("todo")};
            if (run(w, S_TASK_INSERT, 2, p, 0) != 1) {
                die("seed insert failed");
            }
            w->removable[s] = atoll(w->cols[0]);        /* RETURNING's id */
        }
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;

    connect_worker(w);
    pthread_barrier_wait(&ready);
    pthread_barrier_wait(&go);
    for (;;) {
        double t0 = now_ms();
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        if (opt.syncs > 0 ? w->count >= (size_t)opt.syncs : ts.tv_sec > deadline.tv_sec
            || (ts.tv_sec == deadline.tv_sec && ts.tv_nsec >= deadline.tv_nsec)) {
            break;
        }
        sync_once(w);
        if (w->count == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4096;
            if (!(w->latency = realloc(w->latency, w->cap * sizeof(double)))) {
                die("out of memory");
            }
        }
        w->latency[w->count++] = now_ms() - t0;
    }
    return NULL;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double percentile(const double *sorted, size_t n, double p)
{
    size_t i;

    if (n == 0) {
        return 0;
    }
    i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static void usage(void)
{
    fputs("usage: sync_direct [--host H] [--port P | --socket S] [--user U] [--password W]\n"
          "       [--database D]\n"
          "       [--threads N] [--seconds T] [--scenario move|add|batch] [--tasks N]\n"
          "       [--resources R] [--nonce X] [--revision R [--clients G]] [--syncs N]\n"
          "  --revision R: the board's revision at the start; every sync then carries the highest\n"
          "  revision its client has seen (without it, syncs carry none); --clients G: the threads\n"
          "  are G clients that share that revision (default: min(2, threads), as wrk -t);\n"
          "  --syncs N: each thread stops after N syncs instead of after T seconds\n", stderr);
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"host", 1, NULL, 'h'}, {"port", 1, NULL, 'P'}, {"user", 1, NULL, 'u'},
        {"password", 1, NULL, 'p'}, {"database", 1, NULL, 'D'}, {"threads", 1, NULL, 't'},
        {"seconds", 1, NULL, 's'}, {"scenario", 1, NULL, 'S'}, {"tasks", 1, NULL, 'T'},
        {"resources", 1, NULL, 'R'}, {"nonce", 1, NULL, 'n'}, {"revision", 1, NULL, 'r'},
        {"clients", 1, NULL, 'c'}, {"syncs", 1, NULL, 'N'}, {"socket", 1, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': opt.host = optarg; break;
        case 'P': opt.port = (unsigned)atoi(optarg); break;
        case 'u': opt.user = optarg; break;
        case 'p': opt.password = optarg; break;
        case 'D': opt.database = optarg; break;
        case 't': opt.threads = atoi(optarg); break;
        case 's': opt.seconds = atoi(optarg); break;
        case 'S': opt.scenario = optarg; break;
        case 'T': opt.tasks = atoi(optarg); break;
        case 'R': opt.resources = atoi(optarg); break;
        case 'n': opt.nonce = atoi(optarg) % 10000; break;
        case 'r': opt.revision = atoll(optarg); break;
        case 'c': opt.clients = atoi(optarg); break;
        case 'N': opt.syncs = atoi(optarg); break;
        case 'k': opt.socket = optarg; break;
        default: usage();
        }
    }
    if (optind != argc || opt.threads < 1 || opt.seconds < 1 || opt.resources < 1
        || opt.tasks < opt.threads || opt.clients < 0 || opt.clients > opt.threads
        || (strcmp(opt.scenario, "move") && strcmp(opt.scenario, "add")
            && strcmp(opt.scenario, "batch"))) {
        usage();
    }
}

int main(int argc, char **argv)
{
    worker_t *workers;
    pthread_t *ids;
    double *all, seconds, t0;
    size_t total = 0, at = 0;
    long long retries = 0, stale = 0, journal_reads = 0, caught_up = 0;
    int i, setup;

    parse_args(argc, argv);
    if (opt.clients == 0) {
        opt.clients = opt.threads < 2 ? opt.threads : 2;
    }
    if (!(client_revision = calloc((size_t)opt.clients, sizeof(*client_revision)))) {
        die("out of memory");
    }
    for (i = 0; i < opt.clients; i++) {
        client_revision[i] = opt.revision;
    }
    if (mysql_library_init(0, NULL, NULL)) {
        die("mysql_library_init failed");
    }
    workers = calloc((size_t)opt.threads, sizeof(*workers));
    ids = calloc((size_t)opt.threads, sizeof(*ids));
    if (!workers || !ids) {
        die("out of memory");
    }
    pthread_barrier_init(&ready, NULL, (unsigned)opt.threads + 1);
    pthread_barrier_init(&go, NULL, (unsigned)opt.threads + 1);
    for (i = 0; i < opt.threads; i++) {
        workers[i].index = i + 1;
        workers[i].seed = (unsigned)(opt.nonce * 1000 + i + 1);
        /* as wrk hands out its connections: the first threads/clients to the first client */
        workers[i].client = i * opt.clients / opt.threads;
        workers[i].span = opt.tasks / opt.threads;
        workers[i].first = (long long)i * workers[i].span + 1;
        if ((errno = pthread_create(&ids[i], NULL, worker_main, &workers[i])) != 0) {
            die("pthread_create: %s", strerror(errno));
        }
    }
    /* the clock starts once every thread is connected and has its statements prepared */
    pthread_barrier_wait(&ready);
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += opt.seconds;
    t0 = now_ms();
    pthread_barrier_wait(&go);
    for (i = 0; i < opt.threads; i++) {
        pthread_join(ids[i], NULL);
        total += workers[i].count;
        retries += workers[i].retries;
        stale += workers[i].stale;
        journal_reads += workers[i].journal_reads;
        caught_up += workers[i].caught_up;
    }
    seconds = (now_ms() - t0) / 1e3;
    if (!(all = malloc((total ? total : 1) * sizeof(double)))) {
        die("out of memory");
    }
    for (i = 0; i < opt.threads; i++) {
        memcpy(all + at, workers[i].latency, workers[i].count * sizeof(double));
        at += workers[i].count;
        mysql_close(workers[i].db);
        free(workers[i].others);
    }
    qsort(all, total, sizeof(double), compare);
    setup = 2 + (strcmp(opt.scenario, "batch") == 0 ? 2 : 0);
    printf("TB transactions=%zu seconds=%.3f tps=%.1f p50_ms=%.3f p99_ms=%.3f retries=%lld "
           "setup_questions=%d setup_prepares=%d stale=%lld journal_reads=%lld caught_up=%lld\n",
           total, seconds, (double)total / seconds, percentile(all, total, 50),
           percentile(all, total, 99), retries, setup * opt.threads, S_COUNT * opt.threads,
           stale, journal_reads, caught_up);
    mysql_library_end();
    return 0;
}
