/* tb_sync_apply.c: applying a checked sync in one transaction.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * Applying a checked sync in one transaction:
 *   1. lock the revision row; a stale revision is refused (reject policy),
 *      or checked record by record against the journal (record policy);
 *   2. find the rows that removals will cascade to, then remove, children
 *      first;
 *   3. add and update, parents first, translating phantom ids;
 *   4. if anything changed: journal every changed record and raise the
 *      revision once;
 *   5. add what others changed since the client's revision, and commit.
 * Every statement is prepared (or found prepared on the connection) before
 * the transaction starts (tb_db.h).
 */

#include <stdio.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "tb_sync.h"
#include "tb_answer.h"
#include "tb_convert.h"
#include "tb_journal.h"
#include "tb_nested.h"
#include "tb_sql.h"

/* Runs of a sync that loses to another transaction (1213: an InnoDB
 * deadlock, or on Galera a certification failure or brute-force abort,
 * at any statement including COMMIT).  Before each new run it pauses for
 * a time drawn at random between half a bound and the bound, which
 * doubles from the first pause to the last, so that the syncs that
 * collided (often through two cluster nodes) do not collide again in
 * step.  Ten runs pause 0.51 to 1.02 s in all; a sync that still loses
 * is answered 503 with Retry-After (docs/operations.md, "Limits"). */
#define TB_SYNC_ATTEMPTS 10
#define TB_SYNC_FIRST_PAUSE apr_time_from_msec(4)
#define TB_SYNC_LAST_PAUSE apr_time_from_msec(256)

/* InnoDB's "Got error 193": an ON DELETE CASCADE deeper than 15 levels. */
#define ER_CASCADE_TOO_DEEP 1296

static const char *const SQL_LAST_ID = "SELECT LAST_INSERT_ID()";

/* An INSERT of a record with an automatic id ends in RETURNING and the
 * store's columns (MariaDB 10.5 and later), which gives the new id and
 * the row as stored in the same round trip; without it the id takes a
 * SELECT LAST_INSERT_ID() and the row a read back.  A server that cannot
 * parse RETURNING (MySQL, an older MariaDB) turns it off in the process
 * the first time. */
static apr_uint32_t returning_unsupported;

typedef struct apply_t {
    tb_db_t *db;
    tb_sync_t *sync;
    tb_sync_error_t *err;
    apr_pool_t *pool;
    int changed;                /* something was written */
    apr_int64_t revision;       /* the locked revision */
    int has_revision;
    apr_hash_t *cascaded;       /* "store\nid" of rows the removals of
                                   this sync took along */
    int retry;                  /* a concurrent twin won: run again */
    int moved;                  /* others' commits since check_policy
                                   touched this sync's records: run again
                                   after a pause */
    int force_prepare;          /* the connection forgot its statements */
    const char *now;            /* the sync's time for stamp= fields, UTC
                                   as DATETIME text */
    tb_journal_read_t others;   /* changes since the client's revision */
    int has_others;             /* others is complete: send them along */
    apr_array_header_t *written;/* tb_journal_entry_t of this sync */
    apr_hash_t *touched;        /* tb_journal_key() of its records */
} apply_t;

/* A candidate for cascade reporting: a row that pointed at a removed one. */
typedef struct cascade_t {
    tb_changes_t *ch;
    const char *id;
    int tree;                   /* found through the store's own parent */
} cascade_t;

static int fail(apply_t *a, int status, const char *message)
{
    a->err->status = status;
    a->err->message = message;
    return status;
}

/* A record id as the answer writes it: a number for an auto key. */
static const char *id_json(apply_t *a, const tb_store_t *store,
                           const char *id)
{
    return store->id_kind == TB_ID_AUTO ? id : tb_json_quote(a->pool, id);
}

static const char *describe(apply_t *a, const tb_store_t *store,
                            const tb_record_t *rec)
{
    return apr_psprintf(a->pool, "store '%s', record {%s}", store->id,
                        rec->key_json);
}

/* Turns a database failure into the client's status and message; the
 * database's own text stays in err->db for the log. */
static int db_failed(apply_t *a, const tb_store_t *store,
                     const tb_record_t *rec)
{
    const char *what = (store && rec) ? describe(a, store, rec)
                                      : "the board";
    tb_invalid_t *inv;

    /* Before "unavailable": the server closes the connection after such
     * a statement, but sending it again would fail again. */
    if (tb_db_is_too_large(a->err->db.code)) {
        return fail(a, 413, apr_psprintf(a->pool, "%s is too large for the "
                                         "database; nothing was saved",
                                         what));
    }
    if (a->err->db.unavailable) {
        return fail(a, 503, "the database is not reachable at the moment; "
                    "your changes were not saved, please try again shortly");
    }
    if (a->err->db.busy) {
        return fail(a, 503, "the board is busy with other changes at the "
                    "moment; your changes were not saved, please try again "
                    "shortly");
    }
    switch (a->err->db.code) {
    case 1062:
        return fail(a, 409, apr_psprintf(a->pool, "%s: a record with the "
                                         "same key already exists", what));
    case 1451:
        return fail(a, 409, apr_psprintf(a->pool, "%s is still used by "
                                         "records of another store", what));
    case 1452:
        return fail(a, 409, apr_psprintf(a->pool, "%s refers to a record "
                                         "that does not exist (it may have "
                                         "been deleted by someone else)",
                                         what));
    case 1048: case 1364: case 1264: case 1265: case 1292: case 1366:
    case 1406: case 3140: case 4025:
        if (store && rec) {
            inv = apr_array_push(a->sync->invalid);
            inv->store = store->id;
            inv->key_json = rec->key_json;
            inv->field = NULL;
            inv->message = "a value does not fit the database (a required "
                           "value is missing, or one is too long or out of "
                           "range)";
        }
        return fail(a, 422, apr_psprintf(a->pool, "%s could not be saved: "
                                         "a value does not fit the "
                                         "database", what));
    }
    return fail(a, 500, "the changes could not be saved because of a server "
                "error (logged); nothing was changed");
}

static int statement(apply_t *a, const char *sql, apr_dbd_prepared_t **st)
{
    return tb_db_statement(a->db, sql, a->force_prepare, st, &a->err->db)
           ? db_failed(a, NULL, NULL) : 0;
}

/* 1 when the module writes a stamp= field on this operation. */
static int stamps(const tb_field_t *f, int adding)
{
    return f->stamp != TB_STAMP_NONE
           && (adding || f->stamp == TB_STAMP_UPDATED_BY
               || f->stamp == TB_STAMP_UPDATED_AT);
}

/* 1 when the record sends a field this server stores. */
static int sends_any(const tb_store_t *store, const tb_record_t *rec)
{
    int i;

    for (i = 0; i < store->fields->nelts; i++) {
        if (rec->sent[i]) {
            return 1;
        }
    }
    return 0;
}

/* The one INSERT (adding) or UPDATE that the records of a store share in
 * this sync, whatever fields each sends, so that no sync prepares more
 * statements than its configuration has stores (docs/operations.md "Limits"): the
 * fields some record sends (a plain placeholder when all do, a flag and a
 * value when only some do), then the stamps.  An update that sends
 * nothing the server stores changes nothing, stamps included, and needs
 * no statement.  *modes gets the tb_column_e of each field. */
static const char *shared_sql(apply_t *a, const tb_store_t *store,
                              const apr_array_header_t *recs,
                              const apr_array_header_t *more, int adding,
                              char **modes)
{
    const apr_array_header_t *sets[2];
    int nfields = store->fields->nelts, nrecs = 0, n = 0, i, j, k;
    int *count = apr_pcalloc(a->pool, sizeof(int) * (nfields + 1));
    const char **columns = apr_palloc(a->pool, sizeof(char *)
                                               * (nfields + 2));
    char *flagged = apr_pcalloc(a->pool, nfields + 2);

    *modes = apr_pcalloc(a->pool, nfields + 1);
    sets[0] = recs;
    sets[1] = more;
    for (k = 0; k < 2; k++) {
        for (j = 0; sets[k] && j < sets[k]->nelts; j++) {
            const tb_record_t *rec = APR_ARRAY_IDX(sets[k], j,
                                                   const tb_record_t *);
            if (!adding && !sends_any(store, rec)) {
                continue;
            }
            nrecs++;
            for (i = 0; i < nfields; i++) {
                count[i] += rec->sent[i] ? 1 : 0;
            }
        }
    }
    if (nrecs == 0) {
        return NULL;
    }
    if (adding && store->id_kind == TB_ID_STRING) {
        columns[n++] = store->id_field.column;
    }
    for (i = 0; i < nfields; i++) {
        if (count[i] == 0) {
            continue;
        }
        (*modes)[i] = count[i] == nrecs ? TB_COLUMN_ALL : TB_COLUMN_SOME;
        flagged[n] = (*modes)[i] == TB_COLUMN_SOME;
        columns[n++] = APR_ARRAY_IDX(store->fields, i,
                                     const tb_field_t *)->column;
    }
    for (i = 0; i < nfields; i++) {
        const tb_field_t *f = APR_ARRAY_IDX(store->fields, i,
                                            const tb_field_t *);
        if (stamps(f, adding)) {
            columns[n++] = f->column;
        }
    }
    return adding ? tb_sql_insert(a->pool, store, columns, flagged, n)
                  : tb_sql_update(a->pool, store, columns, flagged, n);
}

/* An added record that leaves out a field other added records send. */
static const tb_record_t *partial_record(const tb_changes_t *ch)
{
    int i, j;

    for (j = 0; j < ch->added->nelts; j++) {
        const tb_record_t *rec = APR_ARRAY_IDX(ch->added, j,
                                               const tb_record_t *);
        for (i = 0; i < ch->store->fields->nelts; i++) {
            if (ch->insert_columns[i] == TB_COLUMN_SOME && !rec->sent[i]) {
                return rec;
            }
        }
    }
    return NULL;
}

/* The statements every sync of this location may run: the revision's,
 * the retry tables', the journal's. */
static int prepare_location(apply_t *a)
{
    const tb_sync_conf_t *conf = a->sync->conf;
    const tb_idempotency_t *idem = conf->idempotency;
    apr_dbd_prepared_t *st;
    int rv;

    if (conf->revision && ((rv = statement(a, conf->revision->sql_select,
                                           &st))
                           || (rv = statement(a, conf->revision->sql_lock,
                                              &st))
                           || (rv = statement(a, conf->revision->sql_raise,
                                              &st)))) {
        return rv;
    }
    if (idem && idem->sql_phantom_find
        && ((rv = statement(a, idem->sql_phantom_find, &st))
            || (rv = statement(a, idem->sql_phantom_add, &st)))) {
        return rv;
    }
    if (idem && idem->sql_request_add && a->sync->request_id
        && (rv = statement(a, idem->sql_request_add, &st))) {
        return rv;
    }
    if (conf->journal && conf->revision
        && tb_journal_prepare(a->db, conf->journal, 1, a->force_prepare,
                              &a->err->db)) {
        return db_failed(a, NULL, NULL);
    }
    return 0;
}

/* The statements that read a store's rows: by id, by ids for the
 * journal, the referrers of a removal's cascade, the records references
 * point at (check_references). */
static int prepare_reads(apply_t *a, tb_changes_t *ch, int removing)
{
    const tb_sync_conf_t *conf = a->sync->conf;
    const tb_store_t *store = ch->store;
    apr_dbd_prepared_t *st;
    int j, rv;

    if ((rv = statement(a, store->sql_select_id, &st))
        || (conf->journal && conf->revision
            && (rv = statement(a, store->sql_select_ids, &st)))) {
        return rv;
    }
    if (ch->removed->nelts
        && (rv = statement(a, store->sql_delete_id, &st))) {
        return rv;
    }
    for (j = 0; removing && j < store->fields->nelts; j++) {
        if (store->sql_referrers[j]
            && (rv = statement(a, store->sql_referrers[j], &st))) {
            return rv;
        }
    }
    for (j = 0; a->sync->board && j < store->fields->nelts; j++) {
        const tb_field_t *f = APR_ARRAY_IDX(store->fields, j,
                                            const tb_field_t *);
        const tb_store_t *target = f->references
            ? tb_store_find(conf->stores, f->references) : NULL;
        if (target && (rv = statement(a, target->sql_select_id, &st))) {
            return rv;
        }
    }
    return 0;
}

/* One INSERT and one UPDATE per store, shared by its records (again: an
 * add may be a retry, written as an update), and each record told which
 * it runs. */
static int prepare_writes(apply_t *a, tb_changes_t *ch, int again)
{
    const tb_store_t *store = ch->store;
    apr_dbd_prepared_t *st;
    int j, rv;

    ch->sql_insert = ch->added->nelts
        ? shared_sql(a, store, ch->added, NULL, 1, &ch->insert_columns)
        : NULL;
    ch->sql_update = shared_sql(a, store, ch->updated,
                                again ? ch->added : NULL, 0,
                                &ch->update_columns);
    ch->insert_returns = 0;
    if (ch->sql_insert && store->id_kind == TB_ID_AUTO
        && !apr_atomic_read32(&returning_unsupported)) {
        const char *returning = apr_pstrcat(a->pool, ch->sql_insert,
                                            store->sql_returning, NULL);
        if (tb_db_statement(a->db, returning, a->force_prepare, &st,
                            &a->err->db) == 0) {
            ch->sql_insert = returning;
            ch->insert_returns = 1;
        }
        else if (a->err->db.code == TB_ER_PARSE_ERROR) {
            apr_atomic_set32(&returning_unsupported, 1);
            memset(&a->err->db, 0, sizeof(a->err->db));
        }
    }
    if (ch->sql_insert && !ch->insert_returns) {
        if (tb_db_statement(a->db, ch->sql_insert, a->force_prepare, &st,
                            &a->err->db)) {
            /* DEFAULT(column) of a column without a default (1364): an
             * added record that leaves it out cannot be saved */
            return db_failed(a, store, partial_record(ch));
        }
        if (store->id_kind == TB_ID_AUTO
            && (rv = statement(a, SQL_LAST_ID, &st))) {
            return rv;
        }
    }
    if (ch->sql_update && (rv = statement(a, ch->sql_update, &st))) {
        return rv;
    }
    for (j = 0; j < ch->added->nelts; j++) {
        tb_record_t *rec = APR_ARRAY_IDX(ch->added, j, tb_record_t *);
        rec->sql = ch->sql_insert;
        rec->sql_again = again && sends_any(store, rec) ? ch->sql_update
                                                        : NULL;
    }
    for (j = 0; j < ch->updated->nelts; j++) {
        tb_record_t *rec = APR_ARRAY_IDX(ch->updated, j, tb_record_t *);
        rec->sql = sends_any(store, rec) ? ch->sql_update : NULL;
    }
    /* updates lock their row; so do adds that a retry may repeat */
    if ((ch->updated->nelts || (ch->added->nelts && again))
        && (rv = statement(a, store->sql_lock_id, &st))) {
        return rv;
    }
    return 0;
}

/* Prepares every statement the sync will run, before it starts. */
static int prepare_all(apply_t *a)
{
    const tb_idempotency_t *idem = a->sync->conf->idempotency;
    int again = idem && idem->sql_phantom_find;    /* adds may be retries */
    int i, rv, removing = 0;

    if ((rv = prepare_location(a))) {
        return rv;
    }
    for (i = 0; i < a->sync->changes->nelts; i++) {
        tb_changes_t *ch = APR_ARRAY_IDX(a->sync->changes, i, tb_changes_t *);
        removing |= ch->removed->nelts > 0;
    }
    for (i = 0; i < a->sync->changes->nelts; i++) {
        tb_changes_t *ch = APR_ARRAY_IDX(a->sync->changes, i, tb_changes_t *);
        if ((rv = prepare_reads(a, ch, removing))
            || (rv = prepare_writes(a, ch, again))) {
            return rv;
        }
    }
    return 0;
}

static apr_dbd_prepared_t *prepared(apply_t *a, const char *sql)
{
    return apr_hash_get(a->db->request_stmts, sql, APR_HASH_KEY_STRING);
}

/* The arguments of a statement on the location's tables, followed by the
 * board when the location is scoped: the board is the last placeholder of
 * every scoped statement (tb_sql.c), so no row of another board is ever
 * read, changed or removed, whatever ids the client sends. */
static const char **on_board(apply_t *a, int n, const char **args,
                             int *nargs)
{
    const char **all;

    if (!a->sync->board) {
        *nargs = n;
        return args;
    }
    all = apr_palloc(a->pool, sizeof(char *) * (n + 1));
    if (n > 0) {
        memcpy(all, args, sizeof(char *) * n);
    }
    all[n] = a->sync->board;
    *nargs = n + 1;
    return all;
}

static int select_row(apply_t *a, const char *sql, int n, const char **args,
                      int ncols, const char ***row, const char *doing)
{
    int nargs;
    const char **all = on_board(a, n, args, &nargs);

    return tb_db_select_row(a->db, prepared(a, sql), nargs, all, ncols, row,
                            doing, &a->err->db);
}

/* A statement the database answered with success without doing it.
 * MariaDB (10.11 at least) answers a DELETE whose ON DELETE CASCADE a
 * KILL QUERY interrupted with OK and 0 rows, and leaves the row in place;
 * taken at its word, a removal would be acknowledged and not made.  Such
 * a statement was interrupted: the sync fails as when the error came
 * (503, nothing saved, the client sends it again). */
static int interrupted(apply_t *a, const char *doing)
{
    a->err->db.code = TB_ER_QUERY_INTERRUPTED;
    a->err->db.text = "the database answered success but did not do it "
                      "(an interrupted statement)";
    a->err->db.doing = doing;
    a->err->db.unavailable = 1;
    return db_failed(a, NULL, NULL);
}

static int exec_sql(apply_t *a, const char *sql, int n, const char **args,
                    int *nrows, const char *doing)
{
    int nargs;
    const char **all = on_board(a, n, args, &nargs);

    return tb_db_exec(a->db, prepared(a, sql), nargs, all, nrows, doing,
                      &a->err->db);
}

/* Remembers a record the client sent or this sync reported, so that
 * what others changed does not mention it again. */
static void touch(apply_t *a, const tb_store_t *store, const char *id)
{
    if (a->sync->conf->journal && id) {
        apr_hash_set(a->touched, tb_journal_key(a->pool, store->table, id),
                     APR_HASH_KEY_STRING, "");
    }
}

/* Remembers a record this sync changed, for the journal. */
static void note(apply_t *a, const tb_store_t *store, const char *id,
                 const char *operation)
{
    tb_journal_entry_t *e;

    a->sync->rows_written++;
    if (!a->sync->conf->journal || !id) {
        return;
    }
    e = apr_array_push(a->written);
    e->revision = 0;            /* the raised one, known at the end */
    e->table = store->table;
    e->id = id;
    e->operation = operation;
    touch(a, store, id);
}

/* The journal entry of the record when others changed it since the
 * client's revision, else NULL. */
static const tb_journal_entry_t *changed_by_others(apply_t *a,
                                                   const tb_store_t *store,
                                                   const char *id)
{
    if (!a->has_others || !id) {
        return NULL;
    }
    return apr_hash_get(a->others.changed,
                        tb_journal_key(a->pool, store->table, id),
                        APR_HASH_KEY_STRING);
}

/* 1 when the row (read with the store's sql_select_id) holds every value
 * the record sends; a reference to a record added in this sync counts
 * only once it is translated (translated: record_args ran). */
static int row_holds(const tb_store_t *store, const tb_record_t *rec,
                     const char **row, int translated)
{
    int i;

    for (i = 0; i < store->fields->nelts; i++) {
        const tb_field_t *f = APR_ARRAY_IDX(store->fields, i,
                                            const tb_field_t *);
        if (rec->sent[i] && ((rec->phantom_refs[i] && !translated)
                             || !tb_db_value_equal(f->type, rec->values[i],
                                                   row[i + 1]))) {
            return 0;
        }
    }
    return 1;
}

/* 1 when the record already holds every value the update sends: applying
 * it changes nothing, whoever wrote them.  This is how the resend of a
 * sync whose answer was lost (the client still has the old revision) is
 * told from a conflict with its own first attempt. */
static int holds_values(apply_t *a, const tb_store_t *store,
                        const tb_record_t *rec, int *rv)
{
    const char **row, *id = rec->id;

    *rv = 0;
    if (select_row(a, store->sql_lock_id, 1, &id, store->fields->nelts + 1,
                   &row, "locking a record")) {
        *rv = db_failed(a, store, rec);
        return 0;
    }
    return row != NULL && row_holds(store, rec, row, 0);
}

/* Lists a record that others changed since the client's revision. */
static void conflict(apply_t *a, const tb_store_t *store,
                     const tb_record_t *rec, const tb_journal_entry_t *e)
{
    tb_invalid_t *inv = apr_array_push(a->sync->invalid);

    inv->store = store->id;
    inv->key_json = rec->key_json;
    inv->field = NULL;
    inv->message = apr_psprintf(a->pool, "%s by someone else in revision %"
                                APR_INT64_T_FMT,
                                strcmp(e->operation, "removed") == 0
                                    ? "removed" : "changed", e->revision);
}

/* The 409 of the records listed by conflict(): nothing is applied. */
static int refuse_conflicts(apply_t *a)
{
    return fail(a, 409, apr_psprintf(a->pool, "%d of the records you "
                "changed %s changed by someone else since you loaded the "
                "board (revision %" APR_INT64_T_FMT ", yours is %"
                APR_INT64_T_FMT "); nothing was saved: reload, then make "
                "your changes again", a->sync->invalid->nelts,
                a->sync->invalid->nelts == 1 ? "was" : "were", a->revision,
                a->sync->client_revision));
}

/* Record policy: the sync may go on when none of the records it updates
 * or removes was changed by others since the client's revision (or holds
 * what the update writes already); else every such record is listed, and
 * nothing is applied.  Records added again by a retry are checked as they
 * are found (apply_added_again). */
static int check_records(apply_t *a)
{
    int i, j, k, rv;

    for (i = 0; i < a->sync->changes->nelts; i++) {
        tb_changes_t *ch = APR_ARRAY_IDX(a->sync->changes, i, tb_changes_t *);
        for (k = 0; k < 2; k++) {
            apr_array_header_t *recs = k == 0 ? ch->updated : ch->removed;
            for (j = 0; j < recs->nelts; j++) {
                tb_record_t *rec = APR_ARRAY_IDX(recs, j, tb_record_t *);
                const tb_journal_entry_t *e = changed_by_others(a, ch->store,
                                                                rec->id);
                int gone;
                if (!e) {
                    continue;
                }
                gone = strcmp(e->operation, "removed") == 0;
                if (gone && recs == ch->removed) {
                    continue;   /* removed twice: the same outcome */
                }
                if (!gone && recs == ch->updated) {
                    if (!rec->sql || holds_values(a, ch->store, rec, &rv)) {
                        continue;   /* it changes nothing */
                    }
                    if (rv) {
                        return rv;
                    }
                }
                conflict(a, ch->store, rec, e);
            }
        }
    }
    return a->sync->invalid->nelts == 0 ? 0 : refuse_conflicts(a);
}

/* Reads the board's revision into a->revision: with the lock on its row
 * (locking), or as last committed. */
static int read_revision(apply_t *a, int locking)
{
    const tb_revision_t *rev = a->sync->conf->revision;
    const char **row, *args[1];
    const char *doing = locking ? "locking the revision"
                                : "reading the revision";

    args[0] = rev->scope ? a->sync->board : rev->key_value;
    if (tb_db_select_row(a->db, prepared(a, locking ? rev->sql_lock
                                                    : rev->sql_select),
                         rev->key_column ? 1 : 0, args, 1, &row, doing,
                         &a->err->db)) {
        return db_failed(a, NULL, NULL);
    }
    if (!row && a->sync->board) {
        return fail(a, 404, "there is no such board");
    }
    if (!row || !row[0] || !tb_parse_int64(row[0], &a->revision)) {
        a->err->db.code = 0;
        a->err->db.text = "the revision row is missing or not an integer";
        a->err->db.doing = doing;
        a->err->db.unavailable = 0;
        return fail(a, 500, "the board's revision could not be read "
                    "(logged); nothing was changed");
    }
    return 0;
}

/* Before the changes: applies the conflict policy to the revision as last
 * committed (a->revision), and learns what others changed since the
 * client's revision. */
static int check_policy(apply_t *a)
{
    const tb_sync_conf_t *conf = a->sync->conf;
    int rv;

    a->has_revision = 0;
    if (!conf->revision) {
        return 0;
    }
    if ((rv = read_revision(a, 0))) {
        return rv;
    }
    a->has_revision = 1;
    if (!a->sync->has_revision || a->sync->client_revision >= a->revision) {
        return 0;
    }
    /* The client's revision is stale. */
    if (conf->conflicts != TB_CONFLICT_REJECT && conf->journal) {
        /* Read committed: every sync that raised the revision up to the
         * one read above has committed its journal rows with it. */
        if (tb_journal_since(a->db, conf->journal, a->sync->board,
                             a->sync->client_revision, a->revision,
                             &a->others, &a->err->db)) {
            return db_failed(a, NULL, NULL);
        }
        a->has_others = a->others.covered;
        if (a->has_others && conf->conflicts == TB_CONFLICT_RECORD) {
            return check_records(a);
        }
    }
    if (conf->conflicts == TB_CONFLICT_OFF) {
        return 0;
    }
    if (conf->conflicts == TB_CONFLICT_RECORD) {
        return fail(a, 409, apr_psprintf(a->pool, "the board was changed "
                    "by someone else since you loaded it (revision %"
                    APR_INT64_T_FMT ", yours is %" APR_INT64_T_FMT "), in a "
                    "way that cannot be checked record by record; reload, "
                    "then save again", a->revision,
                    a->sync->client_revision));
    }
    return fail(a, 409, apr_psprintf(a->pool, "the board was changed by "
                "someone else since you loaded it (revision %"
                APR_INT64_T_FMT ", yours is %" APR_INT64_T_FMT "); "
                "reload to see the changes, then save again",
                a->revision, a->sync->client_revision));
}

/* The sync must run again: syncs that committed while it made its
 * changes touched what it touched, or made the client's revision stale,
 * and the policy decides that from the start. */
static int moved(apply_t *a)
{
    a->moved = 1;
    a->err->db.code = 0;
    a->err->db.text = "the board kept changing under the sync";
    a->err->db.doing = "applying the sync";
    a->err->db.busy = 1;
    return fail(a, 503, "the board is busy with other changes at the "
                "moment; your changes were not saved, please try again "
                "shortly");
}

/* After the changes, which locked the rows they touched: locks the
 * revision row, which orders the board's syncs from here to their
 * commit, so that syncs of different records overlap until then.  What
 * committed since check_policy read the revision is checked here: a
 * change of a record this sync touched, or a client now stale under the
 * reject policy, runs the sync again; others' changes of other records
 * join the answer. */
static int lock_revision(apply_t *a)
{
    const tb_sync_conf_t *conf = a->sync->conf;
    apr_int64_t seen = a->revision;
    tb_journal_read_t now;
    int i, rv;

    if (!a->has_revision || !a->changed) {
        return 0;               /* nothing to order: the revision as read */
    }
    if ((rv = read_revision(a, 1))) {
        return rv;
    }
    if (a->revision == seen || !a->sync->has_revision
        || a->sync->client_revision >= a->revision) {
        return 0;
    }
    if (conf->conflicts == TB_CONFLICT_REJECT) {
        return moved(a);
    }
    if (!conf->journal) {
        return conf->conflicts == TB_CONFLICT_RECORD ? moved(a) : 0;
    }
    if (tb_journal_since(a->db, conf->journal, a->sync->board,
                         a->sync->client_revision, a->revision, &now,
                         &a->err->db)) {
        return db_failed(a, NULL, NULL);
    }
    if (!now.covered) {
        if (conf->conflicts == TB_CONFLICT_RECORD) {
            return moved(a);
        }
        a->has_others = 0;
        return 0;
    }
    for (i = 0; i < now.entries->nelts; i++) {
        const tb_journal_entry_t *e = &APR_ARRAY_IDX(now.entries, i,
                                                     tb_journal_entry_t);
        if (e->revision > seen
            && apr_hash_get(a->touched, tb_journal_key(a->pool, e->table,
                                                       e->id),
                            APR_HASH_KEY_STRING)) {
            return moved(a);
        }
    }
    a->others = now;
    a->has_others = 1;
    return 0;
}

/* InnoDB follows ON DELETE CASCADE 15 levels deep at most, and refuses
 * the removal of a deeper tree's root.  The tree's rows below the removed
 * ones are known (found through the store's own parent field, breadth
 * first), so they are removed from the deepest up, as the cascade would
 * have, and then the root goes. */
static int remove_tree_bottom_up(apply_t *a, tb_changes_t *ch,
                                 apr_array_header_t *found)
{
    int n;

    for (n = found->nelts - 1; n >= 0; n--) {
        cascade_t *c = &APR_ARRAY_IDX(found, n, cascade_t);
        if (c->ch == ch && c->tree
            && exec_sql(a, ch->store->sql_delete_id, 1, &c->id, NULL,
                        "removing a deep tree")) {
            return -1;
        }
    }
    return 0;
}

/* The removals the client sent, to start the search for what they
 * cascade to; listed gets each one's "store\nid". */
static void list_removed(apply_t *a, apr_array_header_t *work,
                         apr_hash_t *listed)
{
    apr_array_header_t *changes = a->sync->changes;
    int i, j;

    for (i = 0; i < changes->nelts; i++) {
        tb_changes_t *ch = APR_ARRAY_IDX(changes, i, tb_changes_t *);
        for (j = 0; j < ch->removed->nelts; j++) {
            cascade_t *c = apr_array_push(work);
            c->ch = ch;
            c->tree = 0;
            c->id = APR_ARRAY_IDX(ch->removed, j, tb_record_t *)->id;
            apr_hash_set(listed, apr_pstrcat(a->pool, ch->store->id, "\n",
                                             c->id, NULL),
                         APR_HASH_KEY_STRING, c);
        }
    }
}

/* Appends to work and found the rows of ch's store whose field j refers
 * to parent and that are not listed yet. */
static int find_referrers(apply_t *a, cascade_t *parent,
                          tb_changes_t *ch, int j, apr_array_header_t *work,
                          apr_array_header_t *found, apr_hash_t *listed)
{
    const tb_store_t *store = ch->store;
    apr_array_header_t *ids = apr_array_make(a->pool, 4, sizeof(char *));
    const char **args;
    int k, nargs;

    args = on_board(a, 1, &parent->id, &nargs);
    if (tb_db_select_column(a->db, prepared(a, store->sql_referrers[j]),
                            nargs, args, ids, "finding referring rows",
                            &a->err->db)) {
        return db_failed(a, NULL, NULL);
    }
    for (k = 0; k < ids->nelts; k++) {
        const char *id = APR_ARRAY_IDX(ids, k, const char *);
        const char *key = apr_pstrcat(a->pool, store->id, "\n", id, NULL);
        cascade_t *c;
        if (!id || apr_hash_get(listed, key, APR_HASH_KEY_STRING)) {
            continue;
        }
        c = apr_array_push(work);
        c->ch = ch;
        c->id = id;
        c->tree = (ch == parent->ch);
        apr_hash_set(listed, key, APR_HASH_KEY_STRING, c);
        *(cascade_t *)apr_array_push(found) = *c;
    }
    return 0;
}

/* Every row that points at a removed row (and at those, and so on): the
 * rows the database will cascade to, in found. */
static int find_cascades(apply_t *a, apr_array_header_t *found)
{
    apr_array_header_t *changes = a->sync->changes;
    apr_array_header_t *work = apr_array_make(a->pool, 8, sizeof(cascade_t));
    apr_hash_t *listed = apr_hash_make(a->pool);
    int i, j, n, rv;

    list_removed(a, work, listed);
    for (n = 0; n < work->nelts; n++) {
        cascade_t parent = APR_ARRAY_IDX(work, n, cascade_t);
        for (i = 0; i < changes->nelts; i++) {
            tb_changes_t *ch = APR_ARRAY_IDX(changes, i, tb_changes_t *);
            const apr_array_header_t *fields = ch->store->fields;
            for (j = 0; j < fields->nelts; j++) {
                const tb_field_t *f = APR_ARRAY_IDX(fields, j,
                                                    const tb_field_t *);
                if (f->references
                    && strcmp(f->references, parent.ch->store->id) == 0
                    && (rv = find_referrers(a, &parent, ch, j, work, found,
                                            listed))) {
                    return rv;
                }
            }
        }
    }
    return 0;
}

/* Whether the answer mentions each updated record of the store, changed
 * further by the server or not: in a full answer (TaskBoardSyncResponse
 * full), and for a nested store's records always.  Scheduler Pro 7.3.2 keeps
 * an updated calendar interval, and so its calendar, unsaved until the answer
 * names it under its calendar's row, whatever supportShortSyncResponse says;
 * in a short answer the mention costs a few bytes per interval. */
static int confirms_every_record(const apply_t *a, const tb_store_t *store)
{
    return a->sync->conf->full_answer || store->nested_in != NULL;
}

/* Removes one record the client sent. */
static int remove_record(apply_t *a, tb_changes_t *ch, tb_record_t *rec,
                         apr_array_header_t *found)
{
    apr_dbd_prepared_t *del = prepared(a, ch->store->sql_delete_id);
    const char **args, **still;
    int nargs, rows, rv;

    args = on_board(a, 1, &rec->id, &nargs);
    rv = tb_db_exec_may_fail(a->db, del, nargs, args, &rows,
                             "removing a record", &a->err->db);
    if (rv == ER_CASCADE_TOO_DEEP
        && (rv = remove_tree_bottom_up(a, ch, found)) == 0) {
        rv = tb_db_exec(a->db, del, nargs, args, &rows, "removing a record",
                        &a->err->db);
    }
    if (rv) {
        return db_failed(a, ch->store, rec);
    }
    if (rows == 0) {
        /* gone already (still success), unless the database only says so
         * (interrupted above) */
        if (select_row(a, ch->store->sql_select_id, 1, &rec->id, 1, &still,
                       "checking a removal")) {
            return db_failed(a, NULL, NULL);
        }
        if (still) {
            return interrupted(a, "removing a record");
        }
    }
    a->changed |= rows > 0;
    if (rows > 0) {
        note(a, ch->store, rec->id, "removed");
    }
    touch(a, ch->store, rec->id);
    /* a full answer confirms every removal, of a record gone already
     * too (a short one leaves the client's own removals unmentioned) */
    if (a->sync->conf->full_answer) {
        APR_ARRAY_PUSH(ch->removed_out, const char *) = rec->id;
    }
    return 0;
}

/* Rows the database removed along with them are reported, so the client
 * does not ask to remove them again. */
static int report_cascades(apply_t *a, apr_array_header_t *found)
{
    int n;

    for (n = 0; n < found->nelts; n++) {
        cascade_t *c = &APR_ARRAY_IDX(found, n, cascade_t);
        const char **row;
        if (select_row(a, c->ch->store->sql_select_id, 1, &c->id, 1, &row,
                       "checking cascades")) {
            return db_failed(a, NULL, NULL);
        }
        if (!row) {
            APR_ARRAY_PUSH(c->ch->removed_out, const char *) = c->id;
            note(a, c->ch->store, c->id, "removed");
            apr_hash_set(a->cascaded, apr_pstrcat(a->pool, c->ch->store->id,
                                                  "\n", c->id, NULL),
                         APR_HASH_KEY_STRING, c);
        }
    }
    return 0;
}

/* Removals: first find the rows that point at removed rows (and at those,
 * and so on), so that the rows the database cascades to can be reported;
 * then remove, children first. */
static int apply_removals(apply_t *a)
{
    apr_array_header_t *changes = a->sync->changes;
    apr_array_header_t *found = apr_array_make(a->pool, 8,
                                               sizeof(cascade_t));
    int i, j, rv;

    if ((rv = find_cascades(a, found))) {
        return rv;
    }
    for (i = changes->nelts - 1; i >= 0; i--) {
        tb_changes_t *ch = APR_ARRAY_IDX(changes, i, tb_changes_t *);
        for (j = 0; j < ch->removed->nelts; j++) {
            if ((rv = remove_record(a, ch, APR_ARRAY_IDX(ch->removed, j,
                                                         tb_record_t *),
                                    found))) {
                return rv;
            }
        }
    }
    return report_cascades(a, found);
}

/* The values a record binds to its store's shared INSERT (adding) or
 * UPDATE, in the order of shared_sql, with phantom references
 * translated. */
static int record_args(apply_t *a, const tb_changes_t *ch, tb_record_t *rec,
                       int adding, const char ***args, int *nargs)
{
    const tb_store_t *store = ch->store;
    const char *modes = adding ? ch->insert_columns : ch->update_columns;
    int n = 0, i;

    *args = apr_palloc(a->pool, sizeof(char *)
                                * (2 * store->fields->nelts + 3));
    if (adding && store->id_kind == TB_ID_STRING) {
        (*args)[n++] = rec->id;
    }
    for (i = 0; i < store->fields->nelts; i++) {
        const tb_field_t *f = APR_ARRAY_IDX(store->fields, i,
                                            const tb_field_t *);
        if (modes[i] == TB_COLUMN_NONE) {
            continue;
        }
        if (modes[i] == TB_COLUMN_SOME) {
            (*args)[n++] = rec->sent[i] ? "1" : "0";
        }
        if (!rec->sent[i]) {
            (*args)[n++] = NULL;        /* not used: its flag is 0 */
            continue;
        }
        if (rec->phantom_refs[i]) {
            tb_record_t *target = tb_sync_phantom(a->sync, f->references,
                                                  rec->phantom_refs[i]);
            if (!target || !target->id) {
                return fail(a, 400, apr_psprintf(a->pool, "%s: %s refers to "
                            "'%s', which is not saved before it (the stores "
                            "refer to each other in a cycle)",
                            describe(a, store, rec), f->name,
                            rec->phantom_refs[i]));
            }
            rec->values[i] = target->id;
        }
        (*args)[n++] = rec->values[i];
    }
    for (i = 0; i < store->fields->nelts; i++) {
        const tb_field_t *f = APR_ARRAY_IDX(store->fields, i,
                                            const tb_field_t *);
        if (stamps(f, adding)) {
            (*args)[n++] = (f->stamp == TB_STAMP_CREATED_BY
                            || f->stamp == TB_STAMP_UPDATED_BY)
                           ? a->sync->user : a->now;
        }
    }
    if (!adding) {
        (*args)[n++] = rec->id;
    }
    if (a->sync->board) {
        (*args)[n++] = a->sync->board;  /* last, in INSERT and UPDATE */
    }
    *nargs = n;
    return 0;
}

/* On a scoped board, every record a reference field names must be the
 * board's own: the database's foreign key would accept another board's
 * id, and then that board's removals would cascade into this one.  The
 * answer is the one for a record that does not exist at all, so that
 * ids of other boards cannot even be probed. */
static int check_references(apply_t *a, const tb_store_t *store,
                            const tb_record_t *rec)
{
    const char **row;
    int i;

    for (i = 0; a->sync->board && i < store->fields->nelts; i++) {
        const tb_field_t *f = APR_ARRAY_IDX(store->fields, i,
                                            const tb_field_t *);
        const tb_store_t *target;
        if (!f->references || !rec->sent[i] || rec->phantom_refs[i]
            || !rec->values[i]) {
            continue;           /* none, or one this sync just added */
        }
        target = tb_store_find(a->sync->conf->stores, f->references);
        if (!target) {
            continue;           /* not served here: checked at startup */
        }
        if (select_row(a, target->sql_select_id, 1, &rec->values[i], 1, &row,
                       "checking a reference")) {
            return db_failed(a, store, rec);
        }
        if (!row) {
            return fail(a, 409, apr_psprintf(a->pool, "%s refers to a "
                        "record that does not exist (it may have been "
                        "deleted by someone else)", describe(a, store, rec)));
        }
    }
    return 0;
}

/* A retried sync adds a record it added before (the answer was lost, the
 * client kept its change and sent it again under a new requestId): the
 * phantom table knows the row, so its fields are applied to it as an
 * update, and the answer maps the phantom id to the same real id.
 * Returns 1 when rec was handled so, 0 when it is new, or an error. */
static int apply_added_again(apply_t *a, tb_changes_t *ch, tb_record_t *rec)
{
    const tb_store_t *store = ch->store;
    const tb_idempotency_t *idem = a->sync->conf->idempotency;
    const char *key[3], **found, **row, **args;
    const tb_journal_entry_t *e;
    int nargs, rows, rv;

    key[0] = store->table;
    key[1] = rec->phantom;
    key[2] = a->sync->user ? a->sync->user : "";
    if (select_row(a, idem->sql_phantom_find, 3, key, 1, &found,
                   "looking up a phantom id")) {
        return db_failed(a, store, rec);
    }
    if (!found || !found[0]) {
        return 0;
    }
    rec->id = found[0];
    touch(a, store, rec->id);
    if (select_row(a, store->sql_lock_id, 1, &rec->id,
                   store->fields->nelts + 1, &row,
                   "locking a record added before")) {
        return db_failed(a, store, rec);
    }
    if (!row) {
        /* added by the first attempt, removed since: not brought back */
        APR_ARRAY_PUSH(ch->rows_out, const char *) =
            apr_pstrcat(a->pool, "{", rec->key_json, ",\"id\":",
                        id_json(a, store, rec->id), "}", NULL);
        APR_ARRAY_PUSH(ch->removed_out, const char *) = rec->id;
        return 1;
    }
    if (rec->sql_again) {
        if ((rv = record_args(a, ch, rec, 0, &args, &nargs))
            || (rv = check_references(a, store, rec))) {
            return rv;
        }
        /* The resend goes through the conflict check of any update: a
         * row someone else changed since the client's revision is not
         * overwritten, unless it holds what the resend writes already
         * (the client's own first attempt, which the journal lists
         * too). */
        if (a->sync->conf->conflicts == TB_CONFLICT_RECORD
            && (e = changed_by_others(a, store, rec->id))
            && !row_holds(store, rec, row, 1)) {
            conflict(a, store, rec, e);
            return refuse_conflicts(a);
        }
        if (tb_db_exec(a->db, prepared(a, rec->sql_again), nargs, args,
                       &rows, "updating a record added before",
                       &a->err->db)) {
            return db_failed(a, store, rec);
        }
        a->changed |= rows > 0;
        if (rows > 0) {
            note(a, store, rec->id, "updated");
        }
        if (select_row(a, store->sql_select_id, 1, &rec->id,
                       store->fields->nelts + 1, &row,
                       "reading a record added before") || !row) {
            return db_failed(a, store, rec);
        }
    }
    APR_ARRAY_PUSH(ch->rows_out, const char *) =
        tb_row_json_as(a->pool, store, row, NULL, rec->key_json,
                       rec->aliases_sent);
    return 1;
}

static int apply_added(apply_t *a, tb_changes_t *ch, tb_record_t *rec)
{
    const tb_store_t *store = ch->store;
    const tb_idempotency_t *idem = a->sync->conf->idempotency;
    const char **args, **row, *mapping[4];
    int nargs, rv;

    if (idem && idem->sql_phantom_find) {
        if ((rv = apply_added_again(a, ch, rec)) != 0) {
            return rv == 1 ? 0 : rv;
        }
    }
    if ((rv = record_args(a, ch, rec, 1, &args, &nargs))
        || (rv = check_references(a, store, rec))) {
        return rv;
    }
    row = NULL;
    if (ch->insert_returns) {
        if (tb_db_select_row(a->db, prepared(a, rec->sql), nargs, args,
                             store->fields->nelts + 1, &row,
                             "adding a record", &a->err->db)) {
            return db_failed(a, store, rec);
        }
        rec->id = row ? row[0] : NULL;
    }
    else if (tb_db_exec(a->db, prepared(a, rec->sql), nargs, args, NULL,
                        "adding a record", &a->err->db)) {
        return db_failed(a, store, rec);
    }
    else if (store->id_kind == TB_ID_AUTO) {
        if (tb_db_select_row(a->db, prepared(a, SQL_LAST_ID), 0, NULL, 1,
                             &row, "reading the new id", &a->err->db)) {
            return db_failed(a, store, rec);
        }
        rec->id = row ? row[0] : NULL;
    }
    if (idem && idem->sql_phantom_find && rec->id) {
        mapping[0] = store->table;
        mapping[1] = rec->phantom;
        mapping[2] = a->sync->user ? a->sync->user : "";
        mapping[3] = rec->id;
        if (exec_sql(a, idem->sql_phantom_add, 4, mapping, NULL,
                     "recording a phantom id")) {
            if (a->err->db.code == 1062) {
                /* a twin of this sync committed it first: run again,
                 * and this time find it */
                a->retry = 1;
            }
            return db_failed(a, store, rec);
        }
    }
    /* Read back, unless RETURNING did: the response carries every value
     * the server chose (defaults, translated references, normalised
     * values). */
    if (!rec->id || (!ch->insert_returns
                     && (select_row(a, store->sql_select_id, 1, &rec->id,
                                    store->fields->nelts + 1, &row,
                                    "reading an added record") || !row))) {
        return db_failed(a, store, rec);
    }
    APR_ARRAY_PUSH(ch->rows_out, const char *) =
        tb_row_json_as(a->pool, store, row, NULL, rec->key_json,
                       rec->aliases_sent);
    a->changed = 1;
    note(a, store, rec->id, "added");
    return 0;
}

static int apply_updated(apply_t *a, tb_changes_t *ch, tb_record_t *rec)
{
    const tb_store_t *store = ch->store;
    int n = store->fields->nelts, nargs, rows, i, differs = 0, rv;
    const char **args, **before, **after;
    char *mask;

    if (!rec->sql) {
        /* nothing this server stores was changed; a full answer still
         * confirms the record (whole, from the journal, when others
         * changed it: tb_journal_fill) */
        if (confirms_every_record(a, store)
            && !changed_by_others(a, store, rec->id)) {
            APR_ARRAY_PUSH(ch->rows_out, const char *) =
                apr_pstrcat(a->pool, "{\"id\":", id_json(a, store, rec->id),
                            "}", NULL);
        }
        return 0;
    }
    if (select_row(a, store->sql_lock_id, 1, &rec->id, n + 1, &before,
                   "locking a record")) {
        return db_failed(a, store, rec);
    }
    if (!before) {
        /* Removed by this very sync, along with a record it removes (a
         * child of a removed parent): the removal wins, and the response
         * reports it as removed already. */
        if (apr_hash_get(a->cascaded, apr_pstrcat(a->pool, store->id, "\n",
                                                  rec->id, NULL),
                         APR_HASH_KEY_STRING)) {
            return 0;
        }
        if (store->is_project) {
            /* never inserted: a row that is not there is the
             * administrator's to create, with the board */
            return fail(a, 409, "the board has no project row, so the "
                        "project could not be saved; nothing was saved");
        }
        return fail(a, 409, apr_psprintf(a->pool, "%s was deleted by "
                    "someone else; reload to see the current board",
                    describe(a, store, rec)));
    }
    if ((rv = record_args(a, ch, rec, 0, &args, &nargs))
        || (rv = check_references(a, store, rec))) {
        return rv;
    }
    if (tb_db_exec(a->db, prepared(a, rec->sql), nargs, args, &rows,
                   "updating a record", &a->err->db)) {
        return db_failed(a, store, rec);
    }
    a->changed |= rows > 0;
    if (rows > 0) {
        note(a, store, rec->id, "updated");
    }
    touch(a, store, rec->id);
    if (select_row(a, store->sql_select_id, 1, &rec->id, n + 1, &after,
                   "reading an updated record") || !after) {
        return db_failed(a, store, rec);
    }
    /* Mentioned only where the server changed it further: values it
     * normalised, translated phantom ids, columns set by triggers. */
    mask = apr_pcalloc(a->pool, n + 1);
    for (i = 0; i < n; i++) {
        const tb_field_t *f = APR_ARRAY_IDX(store->fields, i,
                                            const tb_field_t *);
        const char *expected = rec->sent[i] ? rec->values[i] : before[i + 1];
        /* stamps are the server's: the client learns them even when the
         * value happens to be the one it had */
        if (rec->phantom_refs[i] || (rows > 0 && stamps(f, 0))
            || !tb_db_value_equal(f->type, expected, after[i + 1])) {
            mask[i] = 1;
            differs = 1;
        }
    }
    /* Others changed it too (no conflict policy): all of it, since the
     * client has not seen their values. */
    if (changed_by_others(a, store, rec->id)) {
        APR_ARRAY_PUSH(ch->rows_out, const char *) =
            tb_row_json_as(a->pool, store, after, NULL, NULL,
                           rec->aliases_sent);
    }
    else if (differs || confirms_every_record(a, store)) {
        /* a full answer mentions it anyway: {id} when nothing differs */
        APR_ARRAY_PUSH(ch->rows_out, const char *) =
            tb_row_json_as(a->pool, store, after, mask, NULL,
                           rec->aliases_sent);
    }
    return 0;
}

/* Remembers the answer with the changes it reports, in the same
 * transaction: an identical resend is answered from it. */
static int record_request(apply_t *a)
{
    const tb_idempotency_t *idem = a->sync->conf->idempotency;
    const char *args[3];
    tb_membuf_t mb;
    tb_jw_t jw;

    tb_membuf_init(&mb, a->pool);
    tb_jw_init(&jw, tb_membuf_sink, &mb);
    tb_sync_write_response(&jw, a->sync);
    tb_jw_flush(&jw);
    a->sync->response = mb.buf;
    if (!idem || !idem->sql_request_add || !a->sync->request_id
        || strlen(a->sync->request_id) > 64) {
        return 0;
    }
    args[0] = a->sync->request_id;
    args[1] = a->sync->body_hash;
    args[2] = mb.buf;
    if (exec_sql(a, idem->sql_request_add, 3, args, NULL,
                 "recording the request")) {
        return db_failed(a, NULL, NULL);
    }
    return 0;
}

static int apply_once(apply_t *a)
{
    const tb_revision_t *rev = a->sync->conf->revision;
    int i, j, rv;

    /* Read committed: check_policy and lock_revision each see every sync
     * committed before them, and the answer the rows as committed. */
    if (tb_db_begin_read_committed(a->db, &a->err->db)) {
        return db_failed(a, NULL, NULL);
    }
    if ((rv = check_policy(a)) || (rv = apply_removals(a))) {
        return rv;
    }
    for (i = 0; i < a->sync->changes->nelts; i++) {
        tb_changes_t *ch = APR_ARRAY_IDX(a->sync->changes, i, tb_changes_t *);
        for (j = 0; j < ch->added->nelts; j++) {
            if ((rv = apply_added(a, ch, APR_ARRAY_IDX(ch->added, j,
                                                       tb_record_t *)))) {
                return rv;
            }
        }
        for (j = 0; j < ch->updated->nelts; j++) {
            if ((rv = apply_updated(a, ch, APR_ARRAY_IDX(ch->updated, j,
                                                         tb_record_t *)))) {
                return rv;
            }
        }
    }
    if ((rv = lock_revision(a))) {
        return rv;
    }
    /* Exactly one step per sync that changed something. */
    if (a->has_revision && a->changed) {
        const char *key = rev->scope ? a->sync->board : rev->key_value;
        int raised = 0;
        if (a->sync->conf->journal
            && tb_journal_write(a->db, a->sync->conf->journal,
                                a->sync->board, a->revision + 1, a->written,
                                &a->err->db)) {
            return db_failed(a, NULL, NULL);
        }
        if (tb_db_exec(a->db, prepared(a, rev->sql_raise),
                       rev->key_column ? 1 : 0, &key, &raised,
                       "raising the revision", &a->err->db)) {
            return db_failed(a, NULL, NULL);
        }
        if (raised < 1) {
            /* the row is there (locked above): one step per sync */
            return interrupted(a, "raising the revision");
        }
        a->revision++;
    }
    if (a->has_revision) {
        a->sync->revision = apr_psprintf(a->pool, "%" APR_INT64_T_FMT,
                                         a->revision);
    }
    /* What others changed since the client's revision and this sync did
     * not touch, as it is now: the client adds, updates and removes it. */
    if (a->has_others && tb_journal_fill(a->db, &a->others, a->sync->board,
                                         a->touched, a->sync->changes,
                                         &a->err->db)) {
        return db_failed(a, NULL, NULL);
    }
    /* nested records go back under their parents' rows in the answer */
    tb_nested_regroup(a->db->pool, a->sync);
    if ((rv = record_request(a))) {
        return rv;
    }
    if (tb_db_commit(a->db, &a->err->db)) {
        if (a->err->db.unavailable) {
            /* the COMMIT may have run before the connection broke */
            return fail(a, 503, "the connection to the database broke while "
                        "your changes were being committed, so they may or "
                        "may not have been saved; please send them again "
                        "shortly");
        }
        return db_failed(a, NULL, NULL);
    }
    return 0;
}

/* Forgets what a failed attempt produced, before the next one. */
static void reset_results(apply_t *a)
{
    int i, j;

    a->changed = 0;
    a->retry = 0;
    a->moved = 0;
    a->has_others = 0;
    a->sync->rows_written = 0;
    a->written = apr_array_make(a->pool, 8, sizeof(tb_journal_entry_t));
    a->touched = apr_hash_make(a->pool);
    a->sync->response = NULL;
    a->cascaded = apr_hash_make(a->pool);
    apr_array_clear(a->sync->invalid);
    for (i = 0; i < a->sync->changes->nelts; i++) {
        tb_changes_t *ch = APR_ARRAY_IDX(a->sync->changes, i, tb_changes_t *);
        apr_array_clear(ch->rows_out);
        apr_array_clear(ch->removed_out);
        for (j = 0; ch->store->id_kind == TB_ID_AUTO
                    && j < ch->added->nelts; j++) {
            APR_ARRAY_IDX(ch->added, j, tb_record_t *)->id = NULL;
        }
    }
}

/* Now, as DATETIME text in UTC (the connections' time zone, DBDInitSQL). */
static const char *utc_now(apr_pool_t *pool)
{
    apr_time_exp_t t;

    apr_time_exp_gmt(&t, apr_time_now());
    return apr_psprintf(pool, "%04d-%02d-%02d %02d:%02d:%02d",
                        t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
                        t.tm_min, t.tm_sec);
}

/* Under TaskBoardScope the project's row is the board's: its key, known
 * once the request's board is, is the board. */
static void bind_project(tb_sync_t *sync)
{
    int i, j;

    for (i = 0; i < sync->changes->nelts; i++) {
        tb_changes_t *ch = APR_ARRAY_IDX(sync->changes, i, tb_changes_t *);
        for (j = 0; ch->store->is_project && ch->store->scope
                    && j < ch->updated->nelts; j++) {
            APR_ARRAY_IDX(ch->updated, j, tb_record_t *)->id = sync->board;
        }
    }
}

/* The pause before run attempt + 1 after a lost one (TB_SYNC_ATTEMPTS). */
static void pause_after_conflict(int attempt)
{
    apr_interval_time_t bound = TB_SYNC_FIRST_PAUSE;
    apr_uint32_t draw = 0;

    while (--attempt > 0 && bound < TB_SYNC_LAST_PAUSE) {
        bound *= 2;
    }
    if (bound > TB_SYNC_LAST_PAUSE) {
        bound = TB_SYNC_LAST_PAUSE;
    }
    if (apr_generate_random_bytes((unsigned char *)&draw, sizeof(draw))
        != APR_SUCCESS) {
        draw = (apr_uint32_t)apr_time_now();
    }
    apr_sleep(bound / 2 + (apr_interval_time_t)(draw % (bound / 2 + 1)));
}

int tb_sync_apply(tb_db_t *db, tb_sync_t *sync, tb_sync_error_t *err)
{
    apply_t a;
    int attempt, rv, lost;

    bind_project(sync);

    memset(&a, 0, sizeof(a));
    a.db = db;
    a.sync = sync;
    a.err = err;
    a.pool = db->pool;
    a.now = utc_now(a.pool);
    memset(err, 0, sizeof(*err));

    for (attempt = 1; ; attempt++) {
        if ((rv = prepare_all(&a))) {
            return rv;
        }
        reset_results(&a);
        rv = apply_once(&a);
        err->attempts = attempt;
        if (rv == 0) {
            return 0;
        }
        tb_db_rollback(db);
        /* A silent reconnect since the statements were prepared: nothing
         * ran on the new connection, so prepare again and start over. */
        a.force_prepare = tb_db_is_stale_statement(err->db.code);
        lost = tb_db_is_retryable(err->db.code) || a.moved;
        if (attempt >= TB_SYNC_ATTEMPTS || err->db.unavailable
            || !(a.retry || a.force_prepare || lost)) {
            return rv;
        }
        if (lost) {
            pause_after_conflict(attempt);
        }
        memset(err, 0, sizeof(*err));
    }
}

int tb_sync_replay(tb_db_t *db, tb_sync_t *sync, tb_sync_error_t *err)
{
    const tb_idempotency_t *idem = sync->conf->idempotency;
    apr_array_header_t *rows = apr_array_make(db->pool, 1, sizeof(char **));
    const char *args[3], **row;
    int nargs = 2;

    sync->response = NULL;
    if (!idem || !idem->sql_request_find || !sync->request_id
        || strlen(sync->request_id) > 64) {
        return 0;
    }
    memset(err, 0, sizeof(*err));
    args[0] = sync->request_id;
    args[1] = sync->body_hash;
    if (sync->board) {
        args[nargs++] = sync->board;
    }
    if (tb_db_query_rows(db, idem->sql_request_find, nargs, args, 1, rows,
                         "looking up an earlier answer", &err->db)) {
        return -1;
    }
    row = rows->nelts ? APR_ARRAY_IDX(rows, 0, const char **) : NULL;
    if (row && row[0]) {
        sync->response = row[0];
    }
    return 0;
}

int tb_sync_prune(tb_db_t *db, const tb_sync_conf_t *conf,
                  tb_db_error_t *err)
{
    const tb_idempotency_t *idem = conf->idempotency;
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t last;
    const char *sql[2], *retention;
    apr_dbd_prepared_t *stmt;
    int i;

    /* once a minute per location and process; the thread that wins the
     * swap does it */
    if (!idem) {
        return 0;
    }
    last = apr_atomic_read32(idem->last_prune);
    if (now - last < 60
        || apr_atomic_cas32(idem->last_prune, now, last) != last) {
        return 0;
    }
    retention = apr_psprintf(db->pool, "%" APR_INT64_T_FMT,
                             idem->retention);
    sql[0] = idem->sql_phantom_prune;
    sql[1] = idem->sql_request_prune;
    for (i = 0; i < 2; i++) {
        /* rare enough not to keep a statement for; a stale one is
         * prepared afresh a minute later */
        if (sql[i] && (tb_db_statement(db, sql[i], 0, &stmt, err)
                       || tb_db_exec(db, stmt, 1, &retention, NULL,
                                     "pruning old retry records", err))) {
            return -1;
        }
    }
    return 0;
}
