/* tb_journal.c: the change journal, and the deltas read from it.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <string.h>

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "tb_journal.h"
#include "tb_convert.h"
#include "tb_load.h"

const char *tb_journal_key(apr_pool_t *pool, const char *table,
                           const char *id)
{
    return apr_pstrcat(pool, table, "\n", id, NULL);
}

const char *tb_row_json(apr_pool_t *pool, const tb_store_t *store,
                        const char **values, const char *mask,
                        const char *key_json)
{
    return tb_row_json_as(pool, store, values, mask, key_json, NULL);
}

const char *tb_row_json_as(apr_pool_t *pool, const tb_store_t *store,
                           const char **values, const char *mask,
                           const char *key_json,
                           const unsigned int *aliases_sent)
{
    tb_membuf_t mb;
    tb_jw_t jw;
    int i, k, members = 0;

    tb_membuf_init(&mb, pool);
    tb_jw_init(&jw, tb_membuf_sink, &mb);
    tb_jw_raw(&jw, "{", 1);
    if (key_json) {
        tb_jw_cstr(&jw, key_json);
        members++;
    }
    /* the project object has no id: the board is its key */
    if (!store->is_project) {
        tb_jw_cstr(&jw, members++ ? ",\"id\":" : "\"id\":");
        tb_write_db_value(&jw, store->id_field.type, values[0]);
    }
    for (i = 0; i < store->fields->nelts; i++) {
        const tb_field_t *f = APR_ARRAY_IDX(store->fields, i,
                                            const tb_field_t *);
        if (mask && !mask[i]) {
            continue;
        }
        if (members++) {
            tb_jw_raw(&jw, ",", 1);
        }
        tb_jw_cstr(&jw, f->json_key);
        tb_write_db_value(&jw, f->type, values[i + 1]);
        for (k = 0; aliases_sent && aliases_sent[i]
                    && k < f->aliases->nelts; k++) {
            const char *alias = APR_ARRAY_IDX(f->aliases, k, const char *);
            if (aliases_sent[i] & (1u << k)) {
                tb_jw_raw(&jw, ",", 1);
                tb_jw_string(&jw, alias, strlen(alias));
                tb_jw_raw(&jw, ":", 1);
                tb_write_db_value(&jw, f->type, values[i + 1]);
            }
        }
    }
    tb_jw_raw(&jw, "}", 1);
    tb_jw_flush(&jw);
    return mb.buf;
}

int tb_journal_prepare(tb_db_t *db, const tb_journal_t *journal, int n,
                       int force, tb_db_error_t *err)
{
    apr_dbd_prepared_t *stmt;

    /* The number of rows is known only at the end (removals take rows of
     * other stores along), so a writing sync asks for every insert. */
    if ((n > 0 && (tb_db_statement(db, journal->sql_insert_one, force,
                                   &stmt, err)
                   || tb_db_statement(db, journal->sql_insert_few, force,
                                      &stmt, err)
                   || tb_db_statement(db, journal->sql_insert_batch, force,
                                      &stmt, err)))
        || tb_db_statement(db, journal->sql_since, force, &stmt, err)) {
        return -1;
    }
    return 0;
}

int tb_journal_write(tb_db_t *db, const tb_journal_t *journal,
                     const char *board, apr_int64_t revision,
                     const apr_array_header_t *entries, tb_db_error_t *err)
{
    const char *rev = apr_psprintf(db->pool, "%" APR_INT64_T_FMT, revision);
    int width = journal->scope ? 5 : 4;     /* placeholders per row */
    const char **args = apr_palloc(db->pool, sizeof(char *) * width
                                             * TB_JOURNAL_BATCH);
    apr_dbd_prepared_t *one, *few, *batch, *stmt;
    int at, n, i;

    if (tb_db_statement(db, journal->sql_insert_one, 0, &one, err)
        || tb_db_statement(db, journal->sql_insert_few, 0, &few, err)
        || tb_db_statement(db, journal->sql_insert_batch, 0, &batch, err)) {
        return -1;
    }
    for (at = 0; at < entries->nelts; at += n) {
        n = entries->nelts - at;
        n = n >= TB_JOURNAL_BATCH ? TB_JOURNAL_BATCH
                                  : n >= TB_JOURNAL_FEW ? TB_JOURNAL_FEW : 1;
        stmt = n == TB_JOURNAL_BATCH ? batch : n == TB_JOURNAL_FEW ? few : one;
        for (i = 0; i < n; i++) {
            const tb_journal_entry_t *e =
                &APR_ARRAY_IDX(entries, at + i, tb_journal_entry_t);
            args[width * i] = rev;
            args[width * i + 1] = e->table;
            args[width * i + 2] = e->id;
            args[width * i + 3] = e->operation;
            if (journal->scope) {
                args[width * i + 4] = board;
            }
        }
        if (tb_db_exec(db, stmt, width * n, args, NULL,
                       "writing the journal", err)) {
            return -1;
        }
    }
    return 0;
}

int tb_journal_since(tb_db_t *db, const tb_journal_t *journal,
                     const char *board, apr_int64_t since, apr_int64_t upto,
                     tb_journal_read_t *out, tb_db_error_t *err)
{
    apr_array_header_t *rows = apr_array_make(db->pool, 16, sizeof(char **));
    apr_dbd_prepared_t *stmt;
    const char *args[3];
    apr_int64_t last = since, revisions = 0;
    int i;

    out->entries = apr_array_make(db->pool, 16, sizeof(tb_journal_entry_t));
    out->changed = apr_hash_make(db->pool);
    out->covered = 0;
    /* Revisions are never negative (the handlers refuse such a client
     * revision with 400): then upto - since below cannot overflow. */
    if (since < 0 || since > upto) {
        return 0;
    }
    if (since == upto) {
        out->covered = 1;
        return 0;
    }
    args[0] = apr_psprintf(db->pool, "%" APR_INT64_T_FMT, since);
    args[1] = apr_psprintf(db->pool, "%" APR_INT64_T_FMT, upto);
    args[2] = board;
    if (tb_db_statement(db, journal->sql_since, 0, &stmt, err)
        || tb_db_select_rows(db, stmt, journal->scope ? 3 : 2, args, 4, rows,
                             "reading the journal", err)) {
        return -1;
    }
    for (i = 0; i < rows->nelts; i++) {
        const char **row = APR_ARRAY_IDX(rows, i, const char **);
        tb_journal_entry_t *e = apr_array_push(out->entries);
        if (!row[0] || !tb_parse_int64(row[0], &e->revision) || !row[1]
            || !row[2] || !row[3]) {
            return 0;           /* not written by us: trust none of it */
        }
        e->table = row[1];
        e->id = row[2];
        e->operation = row[3];
        if (e->revision != last) {
            last = e->revision;
            revisions++;
        }
        apr_hash_set(out->changed, tb_journal_key(db->pool, e->table, e->id),
                     APR_HASH_KEY_STRING, e);
    }
    out->covered = rows->nelts <= TB_JOURNAL_MAX_READ
                   && revisions == upto - since;
    return 0;
}

/* Reads the records of one store that others changed, TB_SELECT_IDS at a
 * time: a row found goes to rows_out, an id not found to removed_out. */
static int fill_store(tb_db_t *db, tb_changes_t *ch, const char *board,
                      const apr_array_header_t *ids, tb_db_error_t *err)
{
    const tb_store_t *store = ch->store;
    int ncols = store->fields->nelts + 1, at, i, n;
    int nargs = TB_SELECT_IDS + (store->scope ? 1 : 0);
    const char *args[TB_SELECT_IDS + 1], *one_args[2], **row;
    apr_dbd_prepared_t *batch, *one;
    apr_array_header_t *rows;
    apr_hash_t *found;

    if (tb_db_statement(db, store->sql_select_ids, 0, &batch, err)) {
        return -1;
    }
    for (at = 0; at < ids->nelts; at += n) {
        n = ids->nelts - at < TB_SELECT_IDS ? ids->nelts - at : TB_SELECT_IDS;
        /* the last id fills the rest of the IN list */
        for (i = 0; i < TB_SELECT_IDS; i++) {
            args[i] = APR_ARRAY_IDX(ids, at + (i < n ? i : n - 1),
                                    const char *);
        }
        args[TB_SELECT_IDS] = board;
        rows = apr_array_make(db->pool, n, sizeof(char **));
        if (tb_db_select_rows(db, batch, nargs, args, ncols, rows,
                              "reading changed records", err)) {
            return -1;
        }
        found = apr_hash_make(db->pool);
        for (i = 0; i < rows->nelts; i++) {
            row = APR_ARRAY_IDX(rows, i, const char **);
            if (row[0]) {
                apr_hash_set(found, row[0], APR_HASH_KEY_STRING, row);
            }
        }
        for (i = 0; i < n; i++) {
            row = apr_hash_get(found, args[i], APR_HASH_KEY_STRING);
            /* A string id may be stored in other bytes than the journal
             * has it, when its column compares case-insensitively: ask
             * for it alone before calling it removed. */
            one_args[0] = args[i];
            one_args[1] = board;
            if (!row && store->id_kind == TB_ID_STRING
                && (tb_db_statement(db, store->sql_select_id, 0, &one, err)
                    || tb_db_select_row(db, one, nargs - TB_SELECT_IDS + 1,
                                        one_args, ncols, &row,
                                        "reading a changed record", err))) {
                return -1;
            }
            if (row) {
                APR_ARRAY_PUSH(ch->rows_out, const char *) =
                    tb_row_json(db->pool, store, row, NULL, NULL);
            }
            else {
                APR_ARRAY_PUSH(ch->removed_out, const char *) = args[i];
            }
        }
    }
    return 0;
}

int tb_journal_fill(tb_db_t *db, const tb_journal_read_t *read,
                    const char *board, apr_hash_t *skip,
                    apr_array_header_t *changes, tb_db_error_t *err)
{
    apr_hash_t *done = apr_hash_make(db->pool);
    apr_array_header_t *ids;
    int i, j;

    /* By revision, and stores parents first: a new card comes before the
     * assignment that points at it. */
    for (j = 0; j < changes->nelts; j++) {
        tb_changes_t *ch = APR_ARRAY_IDX(changes, j, tb_changes_t *);
        const tb_store_t *store = ch->store;

        ids = apr_array_make(db->pool, 8, sizeof(char *));
        for (i = 0; i < read->entries->nelts; i++) {
            const tb_journal_entry_t *e =
                &APR_ARRAY_IDX(read->entries, i, tb_journal_entry_t);
            const char *key;
            if (strcmp(e->table, store->table) != 0) {
                continue;
            }
            key = apr_pstrcat(db->pool, store->id, "\n",
                              tb_journal_key(db->pool, e->table, e->id),
                              NULL);
            if (apr_hash_get(done, key, APR_HASH_KEY_STRING)
                || (skip && apr_hash_get(skip, key + strlen(store->id) + 1,
                                         APR_HASH_KEY_STRING))) {
                continue;
            }
            apr_hash_set(done, key, APR_HASH_KEY_STRING, e);
            APR_ARRAY_PUSH(ids, const char *) = e->id;
        }
        if (ids->nelts && fill_store(db, ch, board, ids, err)) {
            return -1;
        }
    }
    return 0;
}

static int delta_once(tb_db_t *db, const tb_journal_t *journal,
                      const tb_revision_t *rev, const char *board,
                      apr_int64_t since,
                      apr_array_header_t *changes, const char **revision,
                      int *covered, int force, tb_db_error_t *err)
{
    tb_journal_read_t read;
    apr_dbd_prepared_t *stmt;
    apr_int64_t current;
    int i;

    *covered = 0;
    *revision = NULL;
    /* Every statement first: none is prepared inside the snapshot. */
    if (tb_journal_prepare(db, journal, 0, force, err)) {
        return -1;
    }
    for (i = 0; i < changes->nelts; i++) {
        tb_changes_t *ch = APR_ARRAY_IDX(changes, i, tb_changes_t *);
        apr_array_clear(ch->rows_out);
        apr_array_clear(ch->removed_out);
        if (tb_db_statement(db, ch->store->sql_select_ids, force, &stmt, err)
            || (ch->store->id_kind == TB_ID_STRING
                && tb_db_statement(db, ch->store->sql_select_id, force,
                                   &stmt, err))) {
            return -1;
        }
    }
    if (tb_db_begin_snapshot(db, err)
        || tb_load_revision(db, rev, board, revision, err)) {
        return -1;
    }
    if (*revision && tb_parse_int64(*revision, &current)) {
        if (tb_journal_since(db, journal, board, since, current, &read, err)
            || (read.covered && tb_journal_fill(db, &read, board, NULL,
                                                changes, err))) {
            return -1;
        }
        *covered = read.covered;
    }
    return tb_db_commit(db, err);
}

/* Whether revision (as read) is below since: the client has seen more
 * of the board than this database server has applied so far. */
static int is_behind(const char *revision, apr_int64_t since)
{
    apr_int64_t current;

    return revision && tb_parse_int64(revision, &current) && current < since;
}

int tb_journal_delta(tb_db_t *db, const tb_journal_t *journal,
                     const tb_revision_t *rev, const char *board,
                     apr_int64_t since,
                     apr_array_header_t *changes, const char **revision,
                     int *covered, tb_db_error_t *err)
{
    int force = 0, waited = 0;

    for (;;) {
        if (!delta_once(db, journal, rev, board, since, changes, revision,
                        covered, force, err)) {
            /* A client ahead of the server: on a Galera node that has not
             * yet applied what the client saved through another node, a
             * causal wait and a second read find it; a board restored
             * from an older backup stays behind, and the caller answers
             * it in full. */
            if (waited || !is_behind(*revision, since)) {
                return 0;
            }
            waited = 1;
            if (tb_db_causal_wait(db, err)) {
                return -1;
            }
            continue;
        }
        tb_db_rollback(db);
        /* After a silent reconnect the kept statements are gone from the
         * server: prepare them again, once. */
        if (force || !tb_db_is_stale_statement(err->code)) {
            return -1;
        }
        force = 1;
    }
}

/* The time of the last pruning of the journal's rows of board in this
 * process (tb_journal_t.last_prune). */
static apr_uint32_t *prune_slot(const tb_journal_t *journal,
                                const char *board)
{
    apr_uint32_t hash = 2166136261u;
    const unsigned char *p;

    for (p = (const unsigned char *)(board ? board : ""); *p; p++) {
        hash = (hash ^ *p) * 16777619u;
    }
    return &journal->last_prune[hash % TB_PRUNE_SLOTS];
}

int tb_journal_prune(tb_db_t *db, const tb_journal_t *journal,
                     const char *board, tb_db_error_t *err)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t *slot = prune_slot(journal, journal->scope ? board : NULL);
    apr_uint32_t last = apr_atomic_read32(slot);
    apr_uint32_t every = journal->retention < 60
                         ? (apr_uint32_t)journal->retention : 60;
    apr_dbd_prepared_t *stmt;
    const char *args[2], *prune_args[2], **row;
    int attempt, rv, nargs = journal->scope ? 2 : 1;

    /* the thread that wins the swap does it */
    if (now - last < every
        || apr_atomic_cas32(slot, now, last) != last) {
        return 0;
    }
    /* (retention, board) for the horizon, (horizon, board) for the
     * pruning: the board is the last placeholder of both when scoped */
    args[0] = apr_psprintf(db->pool, "%" APR_INT64_T_FMT,
                           journal->retention);
    args[1] = board;
    prune_args[1] = board;
    for (attempt = 0; ; attempt++) {
        row = NULL;
        rv = tb_db_statement(db, journal->sql_horizon, attempt > 0, &stmt,
                             err)
             || tb_db_select_row(db, stmt, nargs, args, 1, &row,
                                 "finding old journal rows", err);
        if (!rv && row && row[0]) {
            prune_args[0] = row[0];
            rv = tb_db_statement(db, journal->sql_prune, attempt > 0, &stmt,
                                 err)
                 || tb_db_exec(db, stmt, nargs, prune_args, NULL,
                               "pruning the journal", err);
        }
        /* a statement kept from before a silent reconnect: once more */
        if (!rv || attempt > 0 || !tb_db_is_stale_statement(err->code)) {
            return rv ? -1 : 0;
        }
    }
}
