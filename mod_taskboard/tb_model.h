/* tb_model.h: the store and field mapping declared in httpd.conf.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_model.h
 * @brief The store and field mapping: what the administrator declared in
 *        httpd.conf, independent of httpd.  Built once at configuration
 *        time, read-only afterwards (shared by all request threads).
 */

#ifndef TB_MODEL_H
#define TB_MODEL_H

#include <apr_pools.h>
#include <apr_tables.h>

/** The value types a field can have (TaskBoardField's second argument). */
typedef enum {
    TB_TYPE_INT,
    TB_TYPE_NUMBER,
    TB_TYPE_STRING,
    TB_TYPE_TEXT,
    TB_TYPE_BOOLEAN,
    TB_TYPE_DATE,
    TB_TYPE_DATETIME,
    TB_TYPE_JSON
} tb_type_e;

/** What the module itself writes into a field (its stamp= option): who
 *  and when, on insert only or on insert and update. */
typedef enum {
    TB_STAMP_NONE = 0,
    TB_STAMP_CREATED_BY,        /* the authenticated user, on insert */
    TB_STAMP_UPDATED_BY,        /* the authenticated user, always */
    TB_STAMP_CREATED_AT,        /* the time (UTC), on insert */
    TB_STAMP_UPDATED_AT         /* the time (UTC), always */
} tb_stamp_e;

/** Where a request's board comes from (TaskBoardScope). */
typedef enum {
    TB_SCOPE_ENV,               /* a request variable: mod_rewrite's E=,
                                   SetEnvIf, or a <LocationMatch> named
                                   group as MATCH_<NAME> */
    TB_SCOPE_PARAM              /* a query string parameter */
} tb_scope_source_e;

/** Board scoping: many boards in the same tables, told apart by a column
 *  that every table of the location has.  Every statement on a scoped
 *  table carries "column = board" (the board as its last placeholder). */
typedef struct tb_scope_t {
    const char *column;         /* validated identifier */
    tb_type_e type;             /* TB_TYPE_INT or TB_TYPE_STRING */
    tb_scope_source_e source;
    const char *name;           /* the variable or parameter */
    const char *defn_file;      /* where it was declared, for messages */
    int defn_line;
} tb_scope_t;

/* The longest board value accepted (the scope column's VARCHAR). */
#define TB_SCOPE_MAX_LENGTH 100

/** How a store's primary key is assigned. */
typedef enum {
    TB_ID_AUTO,     /* integer AUTO_INCREMENT, chosen by the database */
    TB_ID_STRING    /* string key chosen by the client */
} tb_id_kind_e;

typedef struct tb_field_t {
    const char *name;           /* client field name */
    const char *column;         /* SQL column (validated identifier) */
    tb_type_e type;
    const char *default_value;  /* text form, NULL when none */
    int readonly;
    int required;
    apr_int64_t max_length;     /* in characters, 0 = unlimited */
    int has_min, has_max;       /* range of int and number fields */
    double min, max;
    apr_array_header_t *allowed;/* const char *, NULL = any value */
    const char *references;     /* storeId this field points to, or NULL */
    apr_array_header_t *aliases;/* const char *: other names the client
                                   may send it under in a sync (alias=),
                                   at most TB_MAX_ALIASES; NULL: none */
    tb_stamp_e stamp;           /* written by the module (readonly to the
                                   client), or TB_STAMP_NONE */
    const char *json_key;       /* "\"name\":" pre-encoded for the writer */
    const char *defn_file;      /* where it was declared, for messages */
    int defn_line;
} tb_field_t;

/** How a store is loaded in windows by a lazy-loading client
 *  (TaskBoardLazyLoad): the package's params pick the rows. */
typedef enum {
    TB_LAZY_NONE = 0,           /* always loaded whole */
    TB_LAZY_ROWS,               /* params.startIndex/count: a window of rows
                                   in the store's order, with the total;
                                   params.resourceIds: those rows */
    TB_LAZY_SPAN,               /* params.startDate/endDate: the rows whose
                                   span overlaps [startDate, endDate) */
    TB_LAZY_FOLLOW              /* the rows pointing into the window of the
                                   TB_LAZY_SPAN store its references= fields
                                   name (assignments) */
} tb_lazy_e;

/* Most ids params.resourceIds may name (one bound JSON array). */
#define TB_LAZY_MAX_IDS 1000

/* Most aliases of one field: a sync notes the ones a record used in the
 * bits of an unsigned int. */
#define TB_MAX_ALIASES 8

typedef struct tb_order_t {
    const char *column;
    int descending;
} tb_order_t;

typedef struct tb_store_t {
    const char *id;             /* client storeId */
    const char *json_key;       /* "\"storeId\":" pre-encoded */
    const char *table;
    tb_field_t id_field;        /* client name "id", type int or string */
    tb_id_kind_e id_kind;
    apr_array_header_t *fields; /* tb_field_t *, in declaration order */
    apr_array_header_t *order;  /* tb_order_t, the id column last */
    const tb_scope_t *scope;    /* NULL: one board in the table */
    tb_lazy_e lazy;
    const char *lazy_file;      /* where TaskBoardLazyLoad is, for messages */
    int lazy_line;
    const char *span_start;     /* TB_LAZY_SPAN: the client names of the */
    const char *span_end;       /* date or datetime fields of the span */
    int span_max_days;          /* the longest span, when declared: a window
                                   then reads a bounded range of the start
                                   column's index (0 = no bound) */
    const char *nested_field;   /* TaskBoardNested: the field that holds
                                   the parent's id (its references= names
                                   the parent store), and the key under */
    const char *nested_key;     /* which the rows go in the parent's rows */
    const char *nested_key_json;/* ",\"key\":" pre-encoded */
    const char *nested_file;    /* where TaskBoardNested is, for messages */
    int nested_line;
    struct tb_store_t *nested_in;   /* the parent store (set by the
                                   whole-configuration check) */
    apr_array_header_t *children;   /* tb_store_t *: the stores nested in
                                   this one's rows, or NULL */
    const struct tb_store_t *follows;   /* TB_LAZY_FOLLOW: the TB_LAZY_SPAN
                                   store that its references= fields point
                                   at: loaded for the same window, the
                                   rows that point into it (set by the
                                   whole-configuration check) */
    int is_project;             /* <TaskBoardProject>: the board's one row,
                                   loaded and synced as a plain object;
                                   id_field.column is its key column ("":
                                   none, the table's only row), and scope,
                                   when scoped, has the key column */
    const char *project_key;    /* unscoped: the key value of the row
                                   (keycolumn=value), or "1" without a key
                                   column; NULL when scoped (the board) */

    /* TaskBoardTree: the store loads as nested "children".  NULL for a
     * flat store. */
    const tb_field_t *tree_parent;  /* references= the store itself */
    const tb_field_t *tree_order;   /* siblings' order, or NULL */
    int tree_parent_col;            /* tree_parent's column in the
                                       selects (the id is column 0) */
    const char *tree_parent_name;   /* as written, until the section ends */
    const char *tree_order_name;
    const char *tree_file;          /* where it was declared, for messages */
    int tree_line;

    /* SQL generated from the above by tb_sql_build_store(). */
    const char *sql_select_all; /* no placeholders: run unprepared, streamed;
                                   scoped: the board bound, prepared */
    const char *label_select_all;   /* scoped only */
    const char *sql_select_page;/* LIMIT %d OFFSET %d: prepared */
    const char *sql_count;      /* no placeholders (scoped: the board) */
    const char *sql_select_order;   /* the ids alone, in sql_select_all's
                                   order (scoped: the board): a load
                                   rebuilt from an earlier answer */
    const char *label_select_page;
    const char *sql_select_id;  /* all mapped columns of one row by id */
    const char *sql_select_ids; /* the same for TB_SELECT_IDS ids at once
                                   (IN list; repeat an id to fill it) */
    const char *sql_lock_id;    /* the same, FOR UPDATE */
    const char *sql_returning;  /* " RETURNING" and the same columns: an
                                   INSERT that answers its row itself */
    const char *sql_delete_id;
    const char **sql_referrers; /* per field: ids of rows whose field
                                   equals %s (NULL for non-references) */
    const char *sql_select_listed;  /* TB_LAZY_ROWS: the rows whose id is
                                   in a JSON array bound as %s */
    const char *sql_select_span;/* TB_LAZY_SPAN: the rows overlapping
                                   [%s, %s): end, start, start (, board) */
    const char *sql_select_follow;  /* follows: the rows pointing into the
                                   followed store's window */
    int follow_args;            /* its placeholders */

    const char *defn_file;
    int defn_line;
} tb_store_t;

/* The storeId of the project: the key of its object in load and sync
 * packages, its entry in 422 lists and events. */
#define TB_PROJECT_ID "project"

/* Ids read by one sql_select_ids: the records others changed are read
 * this many at a time, with one statement per store. */
#define TB_SELECT_IDS 16

/** Where the board's revision number lives. */
typedef struct tb_revision_t {
    const char *table;
    const char *column;
    const char *key_column;     /* NULL: the table's only row */
    const char *key_value;      /* scoped: NULL, the key is the board */
    const tb_scope_t *scope;    /* NULL: one board */
    const char *sql_select;     /* prepared, key bound as %s */
    const char *label_select;
    const char *sql_select_key; /* the key as stored, and the revision;
                                   NULL without key_column */
    const char *sql_lock;       /* the same, FOR UPDATE (sync) */
    const char *sql_raise;      /* value = value + 1 */
} tb_revision_t;

/** Where syncs are remembered, so that a retried sync does not apply
 *  twice (TaskBoardPhantomTable, TaskBoardRequestTable). */
typedef struct tb_idempotency_t {
    const char *phantom_table;  /* (tbl, phantom, user) -> real_id, or
                                   NULL */
    const char *request_table;  /* (request_id, body_hash) -> response */
    apr_int64_t retention;      /* seconds both are kept */
    const tb_scope_t *scope;    /* NULL: one board */
    const char *sql_phantom_find;
    const char *sql_phantom_add;
    const char *sql_phantom_prune;
    const char *sql_request_find;
    const char *sql_request_add;
    const char *sql_request_prune;
    apr_uint32_t *last_prune;   /* when this process last pruned these
                                   tables (seconds; run-time state, one
                                   per location, so that a busy location
                                   does not put off another's pruning) */
} tb_idempotency_t;

/** What a sync based on an older revision than the board's gets
 *  (TaskBoardConflictPolicy). */
typedef enum {
    TB_CONFLICT_OFF = 0,        /* applied: the last writer wins */
    TB_CONFLICT_REJECT = 1,     /* 409, whatever the others changed */
    TB_CONFLICT_RECORD = 2      /* 409 only when a record it updates or
                                   removes was changed since (journal) */
} tb_conflict_e;

/** The change journal (TaskBoardJournal): one row per record a sync
 *  changed, under the revision the sync raised the board to. */
typedef struct tb_journal_t {
    const char *table;
    apr_int64_t retention;      /* seconds rows are kept */
    const tb_scope_t *scope;    /* NULL: one board */
    const char *sql_insert_one;
    const char *sql_insert_few;     /* TB_JOURNAL_FEW rows at once */
    const char *sql_insert_batch;   /* TB_JOURNAL_BATCH rows at once */
    const char *sql_since;      /* rows of since < revision <= upto */
    const char *sql_horizon;    /* newest revision older than retention */
    const char *sql_prune;      /* rows of revisions up to %s */
    apr_uint32_t *last_prune;   /* TB_PRUNE_SLOTS times when this process
                                   last pruned a board's rows (run-time
                                   state, by a hash of the board) */
    const char *defn_file;      /* where it was declared, for messages */
    int defn_line;
} tb_journal_t;

/* Journal rows written by one INSERT (batches of 16 while that many
 * remain, then of 4, then single rows: three statements per connection),
 * and most rows read to answer one "what changed since" (beyond it a full
 * load is cheaper). */
#define TB_JOURNAL_BATCH 16
/* Boards of one journal whose pruning times are kept apart: two boards
 * that share a slot are pruned a little less often, never wrongly. */
#define TB_PRUNE_SLOTS 256
#define TB_JOURNAL_FEW 4
#define TB_JOURNAL_MAX_READ 10000

/** 1 when s is a plain SQL identifier: [A-Za-z_][A-Za-z0-9_]*, at most 64. */
int tb_is_identifier(const char *s);

/** Parses a type name; returns 0 and sets *type, or -1 when unknown. */
int tb_type_parse(const char *name, tb_type_e *type);
const char *tb_type_name(tb_type_e type);

/** The list of type names, for messages ("int|number|...").*/
const char *tb_type_names(void);

/**
 * Checks that a text value (as written in httpd.conf, or as text from a
 * client) is valid for a field: its type, max length and allowed values.
 * @return NULL when valid, else a message allocated from pool.
 */
const char *tb_field_check_text(apr_pool_t *pool, const tb_field_t *field,
                                const char *value);

/**
 * Checks a request's board value against the scope and returns its
 * canonical text (an int without sign noise or leading zeros, so that one
 * board has one spelling in caches and feeds).
 * @return the value, or NULL with *msg set (allocated from pool)
 */
const char *tb_scope_value(apr_pool_t *pool, const tb_scope_t *scope,
                           const char *raw, const char **msg);

/** Creates a store with the defaults: table = storeId, id column "id" auto. */
tb_store_t *tb_store_create(apr_pool_t *pool, const char *store_id);

/** Finds a store by storeId in an array of tb_store_t *, or NULL. */
const tb_store_t *tb_store_find(const apr_array_header_t *stores,
                                const char *store_id);

/** Finds a field of a store by client name (its name or one of its
 *  aliases), or NULL. */
tb_field_t *tb_store_field(const tb_store_t *store, const char *name);

/** The place of name among the field's aliases, or -1. */
int tb_field_alias(const tb_field_t *field, const char *name);

/** Finds a field of a store by column (the id column included), or NULL. */
const tb_field_t *tb_store_field_by_column(const tb_store_t *store,
                                           const char *column);

#endif /* TB_MODEL_H */
