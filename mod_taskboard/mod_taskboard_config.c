/* mod_taskboard_config.c: the directives, read into the tb_* model.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * The directives: <TaskBoardStore> sections with their fields, read into
 * the tb_* model and validated as they are read.  The checks that need the
 * whole configuration are in mod_taskboard_check.c.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "mod_taskboard_private.h"
#include "tb_convert.h"
#include "tb_json.h"
#include "tb_sql.h"

/************ per-directory configuration: create and merge ***************/

void *tb_create_dir_conf(apr_pool_t *pool, char *dir)
{
    tb_dir_conf_t *conf = apr_pcalloc(pool, sizeof(*conf));

    (void)dir;
    conf->stores = apr_array_make(pool, 4, sizeof(tb_store_t *));
    conf->revision = NULL;          /* unset */
    conf->project = NULL;           /* unset */
    conf->param_name = NULL;        /* unset */
    conf->max_body = -1;            /* unset */
    conf->max_records = -1;         /* unset */
    conf->phantom_field = NULL;     /* unset */
    conf->phantom_parent_field = NULL; /* unset */
    conf->conflicts = -1;           /* unset */
    conf->journal = NULL;           /* unset */
    conf->scope = NULL;             /* unset */
    conf->authz_query = NULL;       /* unset */
    conf->read_only = -1;           /* unset */
    conf->events_heartbeat = -1;    /* unset */
    conf->events_lifetime = -1;     /* unset */
    conf->ignored = NULL;           /* unset */
    conf->idempotency = NULL;       /* unset */
    conf->load_cache = -1;          /* unset */
    conf->sync_full = -1;           /* unset */
    conf->allow_origins = NULL;     /* unset */
    conf->current_store = NULL;
    return conf;
}

static int store_index(const apr_array_header_t *stores, const char *id)
{
    int i;

    for (i = 0; i < stores->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(stores, i, tb_store_t *)->id, id) == 0) {
            return i;
        }
    }
    return -1;
}

void *tb_merge_dir_conf(apr_pool_t *pool, void *basev, void *addv)
{
    tb_dir_conf_t *base = basev, *add = addv;
    tb_dir_conf_t *conf = apr_pcalloc(pool, sizeof(*conf));
    int i, at;

    /* Stores add up: an inner location serves the outer stores plus its
     * own, and its own replace outer ones of the same storeId. */
    conf->stores = apr_array_copy(pool, base->stores);
    for (i = 0; i < add->stores->nelts; i++) {
        tb_store_t *store = APR_ARRAY_IDX(add->stores, i, tb_store_t *);
        at = store_index(conf->stores, store->id);
        if (at >= 0) {
            APR_ARRAY_IDX(conf->stores, at, tb_store_t *) = store;
        }
        else {
            APR_ARRAY_PUSH(conf->stores, tb_store_t *) = store;
        }
    }
    conf->revision = add->revision ? add->revision : base->revision;
    conf->project = add->project ? add->project : base->project;
    conf->param_name = add->param_name ? add->param_name : base->param_name;
    conf->max_body = (add->max_body != -1) ? add->max_body : base->max_body;
    conf->max_records = (add->max_records != -1) ? add->max_records
                                                 : base->max_records;
    conf->phantom_field = add->phantom_field ? add->phantom_field
                                             : base->phantom_field;
    conf->phantom_parent_field = add->phantom_parent_field
                                 ? add->phantom_parent_field
                                 : base->phantom_parent_field;
    conf->conflicts = (add->conflicts != -1) ? add->conflicts
                                             : base->conflicts;
    conf->journal = add->journal ? add->journal : base->journal;
    conf->scope = add->scope ? add->scope : base->scope;
    if (add->authz_query) {
        conf->authz_query = add->authz_query;
        conf->authz_nargs = add->authz_nargs;
        conf->authz_file = add->authz_file;
        conf->authz_line = add->authz_line;
    }
    else {
        conf->authz_query = base->authz_query;
        conf->authz_nargs = base->authz_nargs;
        conf->authz_file = base->authz_file;
        conf->authz_line = base->authz_line;
    }
    conf->read_only = (add->read_only != -1) ? add->read_only
                                             : base->read_only;
    conf->events_heartbeat = (add->events_heartbeat != -1)
                             ? add->events_heartbeat
                             : base->events_heartbeat;
    conf->events_lifetime = (add->events_lifetime != -1)
                            ? add->events_lifetime : base->events_lifetime;
    conf->ignored = add->ignored ? add->ignored : base->ignored;
    conf->load_cache = (add->load_cache != -1) ? add->load_cache
                                               : base->load_cache;
    conf->sync_full = (add->sync_full != -1) ? add->sync_full
                                             : base->sync_full;
    conf->idempotency = add->idempotency ? add->idempotency
                                         : base->idempotency;
    conf->allow_origins = add->allow_origins ? add->allow_origins
                                             : base->allow_origins;
    conf->current_store = NULL;
    return conf;
}

const char *tb_conf_param_name(const tb_dir_conf_t *conf)
{
    return conf->param_name ? conf->param_name : TB_DEFAULT_PARAM;
}

apr_off_t tb_conf_max_body(const tb_dir_conf_t *conf)
{
    return conf->max_body != -1 ? conf->max_body : TB_DEFAULT_MAX_BODY;
}

int tb_conf_max_records(const tb_dir_conf_t *conf)
{
    return conf->max_records != -1 ? conf->max_records
                                   : TB_DEFAULT_MAX_RECORDS;
}

const char *tb_conf_phantom_field(const tb_dir_conf_t *conf)
{
    return conf->phantom_field ? conf->phantom_field : TB_DEFAULT_PHANTOM;
}

const char *tb_conf_phantom_parent_field(const tb_dir_conf_t *conf)
{
    return conf->phantom_parent_field ? conf->phantom_parent_field
                                      : TB_DEFAULT_PHANTOM_PARENT;
}

tb_conflict_e tb_conf_conflicts(const tb_dir_conf_t *conf)
{
    return conf->conflicts != -1 ? (tb_conflict_e)conf->conflicts
                                 : TB_CONFLICT_REJECT;
}

apr_interval_time_t tb_conf_events_heartbeat(const tb_dir_conf_t *conf)
{
    return conf->events_heartbeat != -1 ? conf->events_heartbeat
                                        : TB_DEFAULT_EVENTS_HEARTBEAT;
}

apr_interval_time_t tb_conf_events_lifetime(const tb_dir_conf_t *conf)
{
    return conf->events_lifetime != -1 ? conf->events_lifetime
                                       : TB_DEFAULT_EVENTS_LIFETIME;
}

int tb_conf_read_only(const tb_dir_conf_t *conf)
{
    return conf->read_only == 1;
}

int tb_conf_sync_full(const tb_dir_conf_t *conf)
{
    return conf->sync_full == 1;
}

int tb_conf_load_cache(const tb_dir_conf_t *conf)
{
    return conf->load_cache != -1 ? conf->load_cache : 1;
}

void *tb_create_server_conf(apr_pool_t *pool, server_rec *s)
{
    tb_server_conf_t *conf = apr_pcalloc(pool, sizeof(*conf));

    (void)s;
    conf->cache_size = TB_DEFAULT_CACHE_SIZE;
    conf->cache_largest = TB_DEFAULT_CACHE_LARGEST;
    conf->events_poll = TB_DEFAULT_EVENTS_POLL;
    conf->events_max_streams = 0;   /* from ThreadsPerChild, per process */
    conf->events_max_client = 0;    /* half of events_max_streams */
    return conf;
}

/************ helpers for the directive handlers **************************/

static const char *bad_identifier(cmd_parms *cmd, const char *what,
                                  const char *value)
{
    return apr_psprintf(cmd->pool, "%s: %s '%s' is not a valid SQL "
                        "identifier (use letters, digits and _, not "
                        "starting with a digit, at most 64)",
                        cmd->cmd->name, what, value);
}

/* The store being read, or an error for a directive used outside one. */
static const char *current_store(cmd_parms *cmd, tb_dir_conf_t *conf,
                                 tb_store_t **store)
{
    *store = conf->current_store;
    if (!*store) {
        return apr_psprintf(cmd->pool, "%s is only valid inside a "
                            "<TaskBoardStore> or <TaskBoardProject> "
                            "section", cmd->cmd->name);
    }
    return NULL;
}

/* Parses a whole decimal number in [min, max]; message names the
 * directive. */
static const char *parse_number(cmd_parms *cmd, const char *what,
                                const char *arg, apr_int64_t min,
                                apr_int64_t max, apr_int64_t *out)
{
    char *end;

    errno = 0;
    *out = apr_strtoi64(arg, &end, 10);
    if (!*arg || *end || errno || *out < min || *out > max) {
        return apr_psprintf(cmd->pool, "%s: %s '%s' must be a whole number "
                            "from %" APR_INT64_T_FMT " to %" APR_INT64_T_FMT,
                            cmd->cmd->name, what, arg, min, max);
    }
    return NULL;
}

/* Rejects a column that the store maps already (the id included). */
static const char *check_column_free(cmd_parms *cmd, const tb_store_t *store,
                                     const char *column, const void *self)
{
    const tb_field_t *other = tb_store_field_by_column(store, column);

    if (other && other != self) {
        return apr_psprintf(cmd->pool, "%s: column '%s' of store '%s' is "
                            "already mapped to field '%s'", cmd->cmd->name,
                            column, store->id, other->name);
    }
    return NULL;
}

/************ <TaskBoardStore> and the directives inside it ***************/

/* The journal knows a changed record by its table and id: a store on the
 * project's table would take the project's changes for its records'. */
static const char *table_shared(cmd_parms *cmd, const char *directive,
                                const tb_store_t *store,
                                const tb_store_t *project)
{
    if (strcasecmp(store->table, project->table) != 0) {
        return NULL;
    }
    return apr_psprintf(cmd->pool, "%s: table '%s' is both store '%s''s "
                        "(%s:%d) and the project's (%s:%d); the project "
                        "needs a table that no store uses", directive,
                        project->table, store->id, store->defn_file,
                        store->defn_line, project->defn_file,
                        project->defn_line);
}

static const char *check_tree(cmd_parms *cmd, tb_store_t *store);

static const char *cmd_store_section(cmd_parms *cmd, void *mconfig,
                                     const char *arg)
{
    tb_dir_conf_t *conf = mconfig;
    const ap_directive_t *section = cmd->directive;
    const char *endp = ap_strrchr_c(arg, '>'), *args, *store_id, *err;
    tb_store_t *store;
    int i;

    if (!endp) {
        return TB_CMD_STORE_NAME " directive missing closing '>'";
    }
    args = apr_pstrndup(cmd->temp_pool, arg, endp - arg);
    store_id = ap_getword_conf(cmd->pool, &args);
    if (!*store_id) {
        return TB_CMD_STORE_NAME " needs a storeId, as in "
               "<TaskBoardStore tasks>";
    }
    if (*args) {
        return apr_psprintf(cmd->pool, TB_CMD_STORE_NAME " takes one storeId,"
                            " not '%s %s'", store_id, args);
    }
    if (!tb_is_identifier(store_id)) {
        return apr_psprintf(cmd->pool, TB_CMD_STORE_NAME ": storeId '%s' must"
                            " be letters, digits and _, not starting with a "
                            "digit", store_id);
    }
    tb_retrieve_dbd_functions();
    if (!tb_dbd_open_fn || !tb_dbd_close_fn) {
        return TB_CMD_STORE_NAME " requires mod_dbd: add "
               "'LoadModule dbd_module .../mod_dbd.so' before this line";
    }
    if (conf->current_store) {
        return TB_CMD_STORE_NAME " sections cannot be nested";
    }
    if (conf->project && strcmp(store_id, TB_PROJECT_ID) == 0) {
        return apr_psprintf(cmd->pool, TB_CMD_STORE_NAME ": '%s' is the "
                            "project of this context, declared at %s:%d "
                            "with " TB_CMD_PROJECT_NAME "; a store of that "
                            "name would take its place in the packages",
                            store_id, conf->project->defn_file,
                            conf->project->defn_line);
    }
    i = store_index(conf->stores, store_id);
    if (i >= 0) {
        tb_store_t *first = APR_ARRAY_IDX(conf->stores, i, tb_store_t *);
        return apr_psprintf(cmd->pool, TB_CMD_STORE_NAME ": store '%s' is "
                            "already declared in this context, at %s:%d",
                            store_id, first->defn_file, first->defn_line);
    }

    store = tb_store_create(cmd->pool, store_id);
    store->defn_file = section->filename;
    store->defn_line = section->line_num;

    conf->current_store = store;
    err = ap_walk_config(section->first_child, cmd, cmd->context);
    conf->current_store = NULL;
    if (err) {
        return err;
    }

    if (store->tree_file && (err = check_tree(cmd, store))) {
        return err;
    }
    /* (cmd->cmd is the section's last inner directive by now) */
    if (conf->project && (err = table_shared(cmd, TB_CMD_STORE_NAME, store,
                                             conf->project))) {
        return err;
    }
    store->scope = conf->scope;
    tb_sql_build_store(cmd->pool, store);
    APR_ARRAY_PUSH(conf->stores, tb_store_t *) = store;
    tb_remember_store(cmd, store, section);
    return NULL;
}

/* TaskBoardTable, TaskBoardId and TaskBoardOrder have no meaning for the
 * project's one row: its table and key are the section's arguments. */
static const char *not_in_project(cmd_parms *cmd, const tb_store_t *store)
{
    if (store->is_project) {
        return apr_psprintf(cmd->pool, "%s is not valid inside "
                            TB_CMD_PROJECT_NAME ": the project's table and "
                            "key column are the section's arguments, as in "
                            "<TaskBoardProject project_table>",
                            cmd->cmd->name);
    }
    return NULL;
}

static const char *cmd_table(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tb_store_t *store;
    const char *err = current_store(cmd, mconfig, &store);

    if (err || (err = not_in_project(cmd, store))) {
        return err;
    }
    if (!tb_is_identifier(arg)) {
        return bad_identifier(cmd, "table", arg);
    }
    store->table = arg;
    return NULL;
}

static const char *cmd_id(cmd_parms *cmd, void *mconfig, const char *column,
                          const char *kind)
{
    tb_store_t *store;
    const char *err = current_store(cmd, mconfig, &store);

    if (err || (err = not_in_project(cmd, store))) {
        return err;
    }
    if (!tb_is_identifier(column)) {
        return bad_identifier(cmd, "column", column);
    }
    if ((err = check_column_free(cmd, store, column, &store->id_field))) {
        return err;
    }
    if (!kind || strcasecmp(kind, "auto") == 0) {
        store->id_kind = TB_ID_AUTO;
        store->id_field.type = TB_TYPE_INT;
    }
    else if (strcasecmp(kind, "string") == 0) {
        store->id_kind = TB_ID_STRING;
        store->id_field.type = TB_TYPE_STRING;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: unknown id kind '%s' (use "
                            "auto|string)", cmd->cmd->name, kind);
    }
    store->id_field.column = column;
    return NULL;
}

static const char *cmd_order(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tb_store_t *store;
    const char *err = current_store(cmd, mconfig, &store), *word;
    tb_order_t *last = NULL;

    if (err || (err = not_in_project(cmd, store))) {
        return err;
    }
    apr_array_clear(store->order);
    while (*(word = ap_getword_conf(cmd->temp_pool, &arg))) {
        if (strcasecmp(word, "ASC") == 0 || strcasecmp(word, "DESC") == 0) {
            if (!last) {
                return apr_psprintf(cmd->pool, "%s: '%s' must follow a "
                                    "column", cmd->cmd->name, word);
            }
            last->descending = (strcasecmp(word, "DESC") == 0);
            last = NULL;
            continue;
        }
        if (!tb_is_identifier(word)) {
            return bad_identifier(cmd, "column", word);
        }
        last = apr_array_push(store->order);
        last->column = apr_pstrdup(cmd->pool, word);
        last->descending = 0;
    }
    if (store->order->nelts == 0) {
        return apr_psprintf(cmd->pool, "%s needs at least one column",
                            cmd->cmd->name);
    }
    return NULL;
}

/* The field of a span, declared before TaskBoardLazyLoad and holding a
 * date or a datetime. */
static const char *span_field(cmd_parms *cmd, const tb_store_t *store,
                              const char *name)
{
    const tb_field_t *field = tb_store_field(store, name);

    if (!field) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a field of store "
                            "'%s' (declare its " TB_CMD_FIELD " first)",
                            cmd->cmd->name, name, store->id);
    }
    if (field->type != TB_TYPE_DATE && field->type != TB_TYPE_DATETIME) {
        return apr_psprintf(cmd->pool, "%s: field '%s' of store '%s' is %s: "
                            "a span needs date or datetime fields",
                            cmd->cmd->name, name, store->id,
                            tb_type_name(field->type));
    }
    return NULL;
}

/* TaskBoardLazyLoad rows | span startField endField [maxdays=n] | follow */
static const char *cmd_lazy(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tb_store_t *store;
    const char *err = current_store(cmd, mconfig, &store);
    const char *kind, *start, *end, *max_days;

    if (err) {
        return err;
    }
    if (store->lazy != TB_LAZY_NONE) {
        return apr_psprintf(cmd->pool, "%s: store '%s' has one already",
                            cmd->cmd->name, store->id);
    }
    kind = ap_getword_conf(cmd->temp_pool, &arg);
    start = ap_getword_conf(cmd->pool, &arg);
    end = ap_getword_conf(cmd->pool, &arg);
    max_days = ap_getword_conf(cmd->temp_pool, &arg);
    store->lazy_file = cmd->directive->filename;
    store->lazy_line = cmd->directive->line_num;
    if (strcasecmp(kind, "rows") == 0 && !*start) {
        store->lazy = TB_LAZY_ROWS;
        return NULL;
    }
    if (strcasecmp(kind, "follow") == 0 && !*start) {
        store->lazy = TB_LAZY_FOLLOW;
        return NULL;
    }
    if (strcasecmp(kind, "span") == 0 && *start && *end && !*arg) {
        if ((err = span_field(cmd, store, start))
            || (err = span_field(cmd, store, end))) {
            return err;
        }
        if (*max_days) {
            apr_int64_t days;

            if (strncasecmp(max_days, "maxdays=", 8) != 0) {
                return apr_psprintf(cmd->pool, "%s: unknown option '%s' "
                                    "(maxdays=n)", cmd->cmd->name, max_days);
            }
            if ((err = parse_number(cmd, "maxdays", max_days + 8, 1, 36600,
                                    &days))) {
                return err;
            }
            store->span_max_days = (int)days;
        }
        store->lazy = TB_LAZY_SPAN;
        store->span_start = start;
        store->span_end = end;
        return NULL;
    }
    return apr_psprintf(cmd->pool, "%s: use '%s rows', '%s span "
                        "startField endField [maxdays=n]' or '%s follow'",
                        cmd->cmd->name, cmd->cmd->name, cmd->cmd->name,
                        cmd->cmd->name);
}

/* TaskBoardNested parentField key: the store's rows travel inside its
 * parent's rows, as a calendar's intervals do. */
static const char *cmd_nested(cmd_parms *cmd, void *mconfig,
                              const char *field_name, const char *key)
{
    tb_store_t *store;
    const char *err = current_store(cmd, mconfig, &store);
    const tb_field_t *field;

    if (err) {
        return err;
    }
    if (store->nested_field) {
        return apr_psprintf(cmd->pool, "%s: store '%s' has one already",
                            cmd->cmd->name, store->id);
    }
    field = tb_store_field(store, field_name);
    if (!field || !field->references) {
        return apr_psprintf(cmd->pool, "%s: '%s' must be a field of store "
                            "'%s' with references= to the parent store "
                            "(declare its " TB_CMD_FIELD " first)",
                            cmd->cmd->name, field_name, store->id);
    }
    if (strcmp(field->references, store->id) == 0) {
        return apr_psprintf(cmd->pool, "%s: '%s' refers to store '%s' "
                            "itself: a tree is " TB_CMD_FIELD "'s parentId, "
                            "not a nested store", cmd->cmd->name, field_name,
                            store->id);
    }
    if (!tb_is_identifier(key)) {
        return bad_identifier(cmd, "key", key);
    }
    store->nested_field = field->name;
    store->nested_key = apr_pstrdup(cmd->pool, key);
    store->nested_key_json = apr_pstrcat(cmd->pool, ",",
                                         tb_json_quote(cmd->pool, key), ":",
                                         NULL);
    store->nested_file = cmd->directive->filename;
    store->nested_line = cmd->directive->line_num;
    return NULL;
}

/* Reads alias=name1,name2: the other names clients give the field (a
 * dependency's from, fromEvent, fromTask).  Each is a field name of its
 * own; that no other field of the store answers to it is checked once
 * the field is complete (check_names). */
static const char *field_aliases(cmd_parms *cmd, tb_field_t *field,
                                 const char *value)
{
    char *list = apr_pstrdup(cmd->pool, value), *last, *item;

    if (!field->aliases) {
        field->aliases = apr_array_make(cmd->pool, 2, sizeof(char *));
    }
    for (item = apr_strtok(list, ",", &last); item;
         item = apr_strtok(NULL, ",", &last)) {
        if (!tb_is_identifier(item) || strcmp(item, "id") == 0) {
            return apr_psprintf(cmd->pool, "%s %s: alias '%s' is not a "
                                "field name (letters, digits and _, not "
                                "starting with a digit, and not id)",
                                cmd->cmd->name, field->name, item);
        }
        if (strcmp(item, field->name) == 0
            || tb_field_alias(field, item) >= 0) {
            return apr_psprintf(cmd->pool, "%s %s: alias '%s' is given "
                                "twice", cmd->cmd->name, field->name, item);
        }
        if (field->aliases->nelts >= TB_MAX_ALIASES) {
            return apr_psprintf(cmd->pool, "%s %s: at most %d aliases",
                                cmd->cmd->name, field->name,
                                TB_MAX_ALIASES);
        }
        APR_ARRAY_PUSH(field->aliases, const char *) = item;
    }
    if (field->aliases->nelts == 0) {
        return apr_psprintf(cmd->pool, "%s %s: alias= needs at least one "
                            "name", cmd->cmd->name, field->name);
    }
    return NULL;
}

/* Rejects a field whose aliases another field of the store answers to
 * already (as its name or an alias): a record's value could not be told
 * apart.  The field's own name was checked before its options. */
static const char *check_names(cmd_parms *cmd, const tb_store_t *store,
                               const tb_field_t *field)
{
    int i;

    for (i = 0; field->aliases && i < field->aliases->nelts; i++) {
        const char *alias = APR_ARRAY_IDX(field->aliases, i, const char *);
        const tb_field_t *other = tb_store_field(store, alias);
        if (other) {
            return apr_psprintf(cmd->pool, "%s %s: alias '%s' is already "
                                "%s of field '%s' in store '%s'",
                                cmd->cmd->name, field->name, alias,
                                strcmp(other->name, alias) == 0
                                    ? "the name" : "an alias",
                                other->name, store->id);
        }
    }
    return NULL;
}

/* TaskBoardTree parentField [orderField]: the fields are checked when the
 * section ends (check_tree), so that they may be declared after it. */
static const char *cmd_tree(cmd_parms *cmd, void *mconfig,
                            const char *parent, const char *order)
{
    tb_store_t *store;
    const char *err = current_store(cmd, mconfig, &store);

    if (err) {
        return err;
    }
    if (store->tree_file) {
        return apr_psprintf(cmd->pool, "%s is already set in store '%s', at "
                            "%s:%d", cmd->cmd->name, store->id,
                            store->tree_file, store->tree_line);
    }
    store->tree_parent_name = parent;
    store->tree_order_name = order;
    store->tree_file = cmd->directive->filename;
    store->tree_line = cmd->directive->line_num;
    return NULL;
}

/* The fields TaskBoardTree names, once the whole section is read: the
 * parent points into the store itself, the order is a number.  The
 * message names TaskBoardTree's line, since httpd names the section's. */
static const char *check_tree(cmd_parms *cmd, tb_store_t *store)
{
    const char *where = apr_psprintf(cmd->pool, TB_CMD_TREE " at %s:%d",
                                     store->tree_file, store->tree_line);
    const tb_field_t *parent = tb_store_field(store, store->tree_parent_name);
    const tb_field_t *order = NULL;
    int i;

    if (!parent) {
        return apr_psprintf(cmd->pool, "%s: the parent field '%s' is not a "
                            "field of store '%s' (declare it with "
                            TB_CMD_FIELD ")", where, store->tree_parent_name,
                            store->id);
    }
    if (!parent->references || strcmp(parent->references, store->id) != 0) {
        return apr_psprintf(cmd->pool, "%s: the parent field '%s' must hold "
                            "the id of a record of the same store: give it "
                            "references=%s", where, parent->name, store->id);
    }
    if (store->tree_order_name) {
        order = tb_store_field(store, store->tree_order_name);
        if (!order) {
            return apr_psprintf(cmd->pool, "%s: the order field '%s' is not "
                                "a field of store '%s' (declare it with "
                                TB_CMD_FIELD ")", where,
                                store->tree_order_name, store->id);
        }
        if (order == parent) {
            return apr_psprintf(cmd->pool, "%s: '%s' cannot be both the "
                                "parent and the order field", where,
                                order->name);
        }
        if (order->type != TB_TYPE_INT && order->type != TB_TYPE_NUMBER) {
            return apr_psprintf(cmd->pool, "%s: the order field '%s' must "
                                "be int or number, not %s", where,
                                order->name, tb_type_name(order->type));
        }
    }
    for (i = 0; i < store->fields->nelts; i++) {
        if (APR_ARRAY_IDX(store->fields, i, const tb_field_t *) == parent) {
            store->tree_parent_col = i + 1;
        }
    }
    store->tree_parent = parent;
    store->tree_order = order;
    return NULL;
}

/* Reads one "key=value" or flag option of TaskBoardField. */
static const char *field_option(cmd_parms *cmd, tb_field_t *field,
                                const char *option)
{
    const char *eq = strchr(option, '=');
    const char *key = eq ? apr_pstrndup(cmd->temp_pool, option, eq - option)
                         : option;
    const char *value = eq ? eq + 1 : NULL;
    const char *err;

    if (!value) {
        if (strcasecmp(key, "readonly") == 0) {
            field->readonly = 1;
            return NULL;
        }
        if (strcasecmp(key, "required") == 0) {
            field->required = 1;
            return NULL;
        }
    }
    else if (strcasecmp(key, "column") == 0) {
        if (!tb_is_identifier(value)) {
            return bad_identifier(cmd, "column", value);
        }
        field->column = value;
        return NULL;
    }
    else if (strcasecmp(key, "default") == 0) {
        field->default_value = value;
        return NULL;
    }
    else if (strcasecmp(key, "maxlength") == 0) {
        return parse_number(cmd, "maxlength", value, 1, APR_INT32_MAX,
                            &field->max_length);
    }
    else if (strcasecmp(key, "min") == 0 || strcasecmp(key, "max") == 0) {
        int is_min = (strcasecmp(key, "min") == 0);
        if (!tb_is_json_number(value)) {
            return apr_psprintf(cmd->pool, "%s %s: %s='%s' is not a number",
                                cmd->cmd->name, field->name, key, value);
        }
        if (is_min) {
            field->has_min = 1;
            field->min = strtod(value, NULL);
        }
        else {
            field->has_max = 1;
            field->max = strtod(value, NULL);
        }
        return NULL;
    }
    else if (strcasecmp(key, "values") == 0) {
        char *list = apr_pstrdup(cmd->pool, value), *last, *item;
        field->allowed = apr_array_make(cmd->pool, 4, sizeof(char *));
        for (item = apr_strtok(list, ",", &last); item;
             item = apr_strtok(NULL, ",", &last)) {
            APR_ARRAY_PUSH(field->allowed, const char *) = item;
        }
        if (field->allowed->nelts == 0) {
            return apr_psprintf(cmd->pool, "%s %s: values= needs at least "
                                "one value", cmd->cmd->name, field->name);
        }
        return NULL;
    }
    else if (strcasecmp(key, "stamp") == 0) {
        static const char *const names[] = {"created-by", "updated-by",
                                            "created-at", "updated-at"};
        int i;
        for (i = 0; i < 4; i++) {
            if (strcasecmp(value, names[i]) == 0) {
                field->stamp = (tb_stamp_e)(TB_STAMP_CREATED_BY + i);
                field->readonly = 1;    /* the client never writes it */
                return NULL;
            }
        }
        return apr_psprintf(cmd->pool, "%s %s: stamp='%s' is not one of "
                            "created-by, updated-by, created-at, updated-at",
                            cmd->cmd->name, field->name, value);
    }
    else if (strcasecmp(key, "references") == 0) {
        if (!tb_is_identifier(value)) {
            return apr_psprintf(cmd->pool, "%s %s: references='%s' is not a "
                                "storeId", cmd->cmd->name, field->name,
                                value);
        }
        field->references = value;
        return NULL;
    }
    else if (strcasecmp(key, "alias") == 0) {
        return field_aliases(cmd, field, value);
    }
    err = apr_psprintf(cmd->pool, "%s %s: unknown option '%s' (use column=,"
                       " default=, readonly, required, maxlength=, min=, max=,"
                       " values=, references=, stamp=, alias=)",
                       cmd->cmd->name,
                       field->name,
                       option);
    return err;
}

/* Checks a field's options against its type, once all are read. */
static const char *check_field(cmd_parms *cmd, tb_field_t *field)
{
    const char *err;
    int i;

    if ((field->stamp == TB_STAMP_CREATED_BY
         || field->stamp == TB_STAMP_UPDATED_BY)
        && field->type != TB_TYPE_STRING && field->type != TB_TYPE_TEXT) {
        return apr_psprintf(cmd->pool, "%s %s: stamp=%s writes a user name: "
                            "the field must be string or text, not %s",
                            cmd->cmd->name, field->name,
                            field->stamp == TB_STAMP_CREATED_BY ? "created-by"
                                                                : "updated-by",
                            tb_type_name(field->type));
    }
    if ((field->stamp == TB_STAMP_CREATED_AT
         || field->stamp == TB_STAMP_UPDATED_AT)
        && field->type != TB_TYPE_DATETIME) {
        return apr_psprintf(cmd->pool, "%s %s: stamp=%s writes a time: the "
                            "field must be datetime, not %s", cmd->cmd->name,
                            field->name,
                            field->stamp == TB_STAMP_CREATED_AT ? "created-at"
                                                                : "updated-at",
                            tb_type_name(field->type));
    }
    if (field->max_length && field->type != TB_TYPE_STRING
        && field->type != TB_TYPE_TEXT && field->type != TB_TYPE_JSON) {
        return apr_psprintf(cmd->pool, "%s %s: maxlength= applies to string,"
                            " text and json fields, not %s", cmd->cmd->name,
                            field->name, tb_type_name(field->type));
    }
    if ((field->has_min || field->has_max) && field->type != TB_TYPE_INT
        && field->type != TB_TYPE_NUMBER) {
        return apr_psprintf(cmd->pool, "%s %s: min= and max= apply to int "
                            "and number fields, not %s", cmd->cmd->name,
                            field->name, tb_type_name(field->type));
    }
    if (field->has_min && field->has_max && field->min > field->max) {
        return apr_psprintf(cmd->pool, "%s %s: min= is above max=",
                            cmd->cmd->name, field->name);
    }
    if (field->allowed) {
        if (field->type != TB_TYPE_STRING && field->type != TB_TYPE_TEXT
            && field->type != TB_TYPE_INT && field->type != TB_TYPE_NUMBER) {
            return apr_psprintf(cmd->pool, "%s %s: values= applies to "
                                "string, text, int and number fields, not %s",
                                cmd->cmd->name, field->name,
                                tb_type_name(field->type));
        }
        for (i = 0; i < field->allowed->nelts; i++) {
            tb_field_t plain = *field;
            plain.allowed = NULL;
            plain.max_length = 0;
            plain.has_min = plain.has_max = 0;
            err = tb_field_check_text(cmd->temp_pool, &plain,
                                      APR_ARRAY_IDX(field->allowed, i,
                                                    const char *));
            if (err) {
                return apr_psprintf(cmd->pool, "%s %s: values=: %s",
                                    cmd->cmd->name, field->name, err);
            }
        }
    }
    if (field->references && field->type != TB_TYPE_INT
        && field->type != TB_TYPE_STRING) {
        return apr_psprintf(cmd->pool, "%s %s: a field with references= "
                            "holds an id and must be int or string, not %s",
                            cmd->cmd->name, field->name,
                            tb_type_name(field->type));
    }
    if (field->default_value) {
        err = tb_field_check_text(cmd->temp_pool, field,
                                  field->default_value);
        if (err) {
            return apr_psprintf(cmd->pool, "%s %s: default '%s' does not fit"
                                " the field: %s", cmd->cmd->name, field->name,
                                field->default_value, err);
        }
    }
    return NULL;
}

static const char *cmd_field(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tb_store_t *store;
    tb_field_t *field;
    const char *err = current_store(cmd, mconfig, &store), *name, *type;
    const char *option;

    if (err) {
        return err;
    }
    name = ap_getword_conf(cmd->pool, &arg);
    type = ap_getword_conf(cmd->pool, &arg);
    if (!*name || !*type) {
        return apr_psprintf(cmd->pool, "%s needs a field name and a type, as "
                            "in '%s name string'", cmd->cmd->name,
                            cmd->cmd->name);
    }
    if (!tb_is_identifier(name)) {
        return apr_psprintf(cmd->pool, "%s: field name '%s' must be letters, "
                            "digits and _, not starting with a digit",
                            cmd->cmd->name, name);
    }
    if (strcmp(name, "id") == 0) {
        return apr_psprintf(cmd->pool, "%s: 'id' is the store's key: declare"
                            " its column with TaskBoardId", cmd->cmd->name);
    }
    if ((field = tb_store_field(store, name))) {
        if (strcmp(field->name, name) != 0) {
            return apr_psprintf(cmd->pool, "%s: field name '%s' is already "
                                "an alias of field '%s' in store '%s'",
                                cmd->cmd->name, name, field->name,
                                store->id);
        }
        return apr_psprintf(cmd->pool, "%s: field '%s' is already declared "
                            "in store '%s'", cmd->cmd->name, name, store->id);
    }
    field = apr_pcalloc(cmd->pool, sizeof(*field));
    field->name = name;
    field->column = name;
    if (tb_type_parse(type, &field->type) != 0) {
        return apr_psprintf(cmd->pool, "%s %s: unknown type '%s' (use %s)",
                            cmd->cmd->name, name, type, tb_type_names());
    }
    while (*(option = ap_getword_conf(cmd->pool, &arg))) {
        if ((err = field_option(cmd, field, option))) {
            return err;
        }
    }
    if (!tb_is_identifier(field->column)) {
        return bad_identifier(cmd, "column", field->column);
    }
    if ((err = check_column_free(cmd, store, field->column, field))
        || (err = check_names(cmd, store, field))
        || (err = check_field(cmd, field))) {
        return err;
    }
    if (store->is_project && field->references) {
        /* the project is no record that a removal could cascade from */
        return apr_psprintf(cmd->pool, "%s %s: references= is not "
                            "available in " TB_CMD_PROJECT_NAME,
                            cmd->cmd->name, name);
    }
    field->json_key = apr_pstrcat(cmd->pool, tb_json_quote(cmd->pool, name),
                                  ":", NULL);
    field->defn_file = cmd->directive->filename;
    field->defn_line = cmd->directive->line_num;
    APR_ARRAY_PUSH(store->fields, tb_field_t *) = field;
    return NULL;
}

/************ directives of the location **********************************/

static const char *not_in_store(cmd_parms *cmd, tb_dir_conf_t *conf)
{
    if (conf->current_store) {
        return apr_psprintf(cmd->pool, "%s belongs outside <TaskBoardStore>"
                            " and <TaskBoardProject>", cmd->cmd->name);
    }
    return NULL;
}

static const char *cmd_revision(cmd_parms *cmd, void *mconfig,
                                const char *arg)
{
    tb_dir_conf_t *conf = mconfig;
    tb_revision_t *rev = apr_pcalloc(cmd->pool, sizeof(*rev));
    const char *err = not_in_store(cmd, conf), *key, *eq;

    if (err) {
        return err;
    }
    rev->table = ap_getword_conf(cmd->pool, &arg);
    rev->column = ap_getword_conf(cmd->pool, &arg);
    key = ap_getword_conf(cmd->pool, &arg);
    if (!*rev->table || !*rev->column || *arg) {
        return apr_psprintf(cmd->pool, "%s needs a table, a column and "
                            "optionally keycolumn=value, as in '%s options "
                            "value name=revision' (under " TB_CMD_SCOPE ": "
                            "optionally the key column alone)",
                            cmd->cmd->name, cmd->cmd->name);
    }
    if (!tb_is_identifier(rev->table)) {
        return bad_identifier(cmd, "table", rev->table);
    }
    if (!tb_is_identifier(rev->column)) {
        return bad_identifier(cmd, "column", rev->column);
    }
    rev->scope = conf->scope;
    if (conf->scope) {
        /* one row per board, found by the board's value */
        if (strchr(key, '=')) {
            return apr_psprintf(cmd->pool, "%s: under " TB_CMD_SCOPE " (at "
                                "%s:%d) each board has its own revision "
                                "row, found by the board: give the key "
                                "column alone (default: %s), not '%s'",
                                cmd->cmd->name, conf->scope->defn_file,
                                conf->scope->defn_line, conf->scope->column,
                                key);
        }
        rev->key_column = *key ? key : conf->scope->column;
        if (!tb_is_identifier(rev->key_column)) {
            return bad_identifier(cmd, "key column", rev->key_column);
        }
    }
    else if (*key) {
        if (!(eq = strchr(key, '='))) {
            return apr_psprintf(cmd->pool, "%s: '%s' must be "
                                "keycolumn=value (a key column alone finds "
                                "a board's row, and needs " TB_CMD_SCOPE
                                " before this line)", cmd->cmd->name, key);
        }
        rev->key_column = apr_pstrndup(cmd->pool, key, eq - key);
        rev->key_value = eq + 1;
        if (!tb_is_identifier(rev->key_column)) {
            return bad_identifier(cmd, "key column", rev->key_column);
        }
    }
    tb_sql_build_revision(cmd->pool, rev);
    conf->revision = rev;
    return NULL;
}

/* The key of the project's row, as TaskBoardRevision's: under
 * TaskBoardScope a key column (default: the scope's column) that holds
 * the board; otherwise keycolumn=value, or nothing for the table's only
 * row. */
static const char *project_key(cmd_parms *cmd, tb_dir_conf_t *conf,
                               tb_store_t *project, const char *key)
{
    const char *eq = strchr(key, '=');

    if (conf->scope) {
        tb_scope_t *by_key;
        if (eq) {
            return apr_psprintf(cmd->pool, TB_CMD_PROJECT_NAME ": under "
                                TB_CMD_SCOPE " (at %s:%d) each board has its "
                                "own project row, found by the board: give "
                                "the key column alone (default: %s), not "
                                "'%s'", conf->scope->defn_file,
                                conf->scope->defn_line, conf->scope->column,
                                key);
        }
        project->id_field.column = *key ? key : conf->scope->column;
        /* Every statement on the row binds the board last (tb_sql.c):
         * here it is matched by the key column. */
        by_key = apr_pmemdup(cmd->pool, conf->scope, sizeof(*by_key));
        by_key->column = project->id_field.column;
        project->scope = by_key;
        project->id_field.type = conf->scope->type;
    }
    else if (*key) {
        if (!eq) {
            return apr_psprintf(cmd->pool, TB_CMD_PROJECT_NAME ": '%s' must "
                                "be keycolumn=value (a key column alone "
                                "finds a board's row, and needs "
                                TB_CMD_SCOPE " before this section)", key);
        }
        project->id_field.column = apr_pstrndup(cmd->pool, key, eq - key);
        project->project_key = eq + 1;
        project->id_field.type = TB_TYPE_STRING;
    }
    else {
        project->id_field.column = "";      /* the table's only row */
        project->project_key = "1";
    }
    if (*project->id_field.column
        && !tb_is_identifier(project->id_field.column)) {
        return apr_psprintf(cmd->pool, TB_CMD_PROJECT_NAME ": key column "
                            "'%s' is not a valid SQL identifier (use "
                            "letters, digits and _, not starting with a "
                            "digit, at most 64)", project->id_field.column);
    }
    return NULL;
}

/* <TaskBoardProject table [key]>: the board's project, one row of table
 * whose TaskBoardField lines are the fields of the client's plain
 * "project" object. */
static const char *cmd_project_section(cmd_parms *cmd, void *mconfig,
                                       const char *arg)
{
    tb_dir_conf_t *conf = mconfig;
    const ap_directive_t *section = cmd->directive;
    const char *endp = ap_strrchr_c(arg, '>'), *args, *table, *key, *err;
    tb_store_t *project;
    int i;

    if (!endp) {
        return TB_CMD_PROJECT_NAME " directive missing closing '>'";
    }
    if ((err = not_in_store(cmd, conf))) {
        return err;
    }
    args = apr_pstrndup(cmd->temp_pool, arg, endp - arg);
    table = ap_getword_conf(cmd->pool, &args);
    key = ap_getword_conf(cmd->pool, &args);
    if (!*table || *args) {
        return TB_CMD_PROJECT_NAME " needs a table and optionally its key, "
               "as in <TaskBoardProject project_table> (the table's only "
               "row), <TaskBoardProject boards id=1>, or under "
               TB_CMD_SCOPE " <TaskBoardProject boards [keycolumn]>";
    }
    if (!tb_is_identifier(table)) {
        return apr_psprintf(cmd->pool, TB_CMD_PROJECT_NAME ": table '%s' is "
                            "not a valid SQL identifier (use letters, digits "
                            "and _, not starting with a digit, at most 64)",
                            table);
    }
    if (conf->project) {
        return apr_psprintf(cmd->pool, TB_CMD_PROJECT_NAME " is already "
                            "declared in this context, at %s:%d",
                            conf->project->defn_file,
                            conf->project->defn_line);
    }
    if (store_index(conf->stores, TB_PROJECT_ID) >= 0) {
        return TB_CMD_PROJECT_NAME ": this context has a store named '"
               TB_PROJECT_ID "', which would take the project's place in "
               "the packages";
    }
    project = tb_store_create(cmd->pool, TB_PROJECT_ID);
    project->is_project = 1;
    project->table = table;
    project->id_kind = TB_ID_STRING;
    project->defn_file = section->filename;
    project->defn_line = section->line_num;
    if ((err = project_key(cmd, conf, project, key))) {
        return err;
    }

    conf->current_store = project;
    err = ap_walk_config(section->first_child, cmd, cmd->context);
    conf->current_store = NULL;
    if (err) {
        return err;
    }
    if (project->fields->nelts == 0) {
        return TB_CMD_PROJECT_NAME " needs at least one TaskBoardField";
    }
    for (i = 0; i < conf->stores->nelts; i++) {
        if ((err = table_shared(cmd, TB_CMD_PROJECT_NAME,
                                APR_ARRAY_IDX(conf->stores, i, tb_store_t *),
                                project))) {
            return err;
        }
    }
    tb_sql_build_store(cmd->pool, project);
    conf->project = project;
    return NULL;
}

/* TaskBoardScope column env=NAME|param=NAME [int|string].  It scopes the
 * stores, revision, journal and retry tables of its own section, whose
 * SQL is generated as they are read: so it comes first. */
static const char *cmd_scope(cmd_parms *cmd, void *mconfig,
                             const char *column, const char *source,
                             const char *type)
{
    tb_dir_conf_t *conf = mconfig;
    tb_scope_t *scope = apr_pcalloc(cmd->pool, sizeof(*scope));
    const char *err = not_in_store(cmd, conf), *eq, *first = NULL;
    const char *where = "";

    if (err) {
        return err;
    }
    if (conf->scope) {
        return apr_psprintf(cmd->pool, "%s is already set in this section, "
                            "at %s:%d", cmd->cmd->name,
                            conf->scope->defn_file, conf->scope->defn_line);
    }
    if (conf->stores->nelts) {
        const tb_store_t *store = APR_ARRAY_IDX(conf->stores, 0,
                                                const tb_store_t *);
        first = TB_CMD_STORE_NAME;
        where = apr_psprintf(cmd->pool, " at %s:%d", store->defn_file,
                             store->defn_line);
    }
    else if (conf->revision || conf->journal || conf->idempotency
             || conf->project) {
        first = conf->revision ? TB_CMD_REVISION : conf->journal
                ? TB_CMD_JOURNAL : conf->idempotency ? TB_CMD_RETRY
                : TB_CMD_PROJECT_NAME;
    }
    if (first) {
        return apr_psprintf(cmd->pool, "%s must come before %s%s in its "
                            "section: the tables of the section are scoped "
                            "as they are declared", cmd->cmd->name, first,
                            where);
    }
    if (!tb_is_identifier(column)) {
        return bad_identifier(cmd, "column", column);
    }
    scope->column = column;
    if (strncmp(source, "env=", 4) == 0) {
        scope->source = TB_SCOPE_ENV;
    }
    else if (strncmp(source, "param=", 6) == 0) {
        scope->source = TB_SCOPE_PARAM;
    }
    else {
        source = NULL;
    }
    eq = source ? strchr(source, '=') + 1 : NULL;
    if (!eq || !*eq) {
        return apr_psprintf(cmd->pool, "%s: the board comes from env=NAME "
                            "(a variable set by mod_rewrite, SetEnvIf, or a "
                            "<LocationMatch> named group as MATCH_NAME) or "
                            "param=NAME (a query parameter), not '%s'",
                            cmd->cmd->name, source ? source : cmd->directive
                                                               ->args);
    }
    scope->name = eq;
    scope->type = TB_TYPE_STRING;
    if (type && strcasecmp(type, "int") == 0) {
        scope->type = TB_TYPE_INT;
    }
    else if (type && strcasecmp(type, "string") != 0) {
        return apr_psprintf(cmd->pool, "%s: the board's type is int or "
                            "string, not '%s'", cmd->cmd->name, type);
    }
    scope->defn_file = cmd->directive->filename;
    scope->defn_line = cmd->directive->line_num;
    conf->scope = scope;
    return NULL;
}

/* TaskBoardAuthzQuery "SELECT access FROM ... WHERE user = %s AND
 * board_id = %s": prepared on mod_dbd's connections like the module's
 * own statements; its placeholders are the user, then the board. */
static const char *cmd_authz_query(cmd_parms *cmd, void *mconfig,
                                   const char *query)
{
    tb_dir_conf_t *conf = mconfig;
    const char *err = not_in_store(cmd, conf);
    char other;
    int nargs;

    if (err) {
        return err;
    }
    nargs = tb_sql_count_placeholders(query, &other);
    if (nargs < 0) {
        return apr_psprintf(cmd->pool, "%s: only %%s placeholders (the "
                            "user, then the board) are allowed, not '%%%c'",
                            cmd->cmd->name, other);
    }
    if (nargs < 1 || nargs > 2) {
        return apr_psprintf(cmd->pool, "%s: the query needs %%s for the user "
                            "and, for boards under " TB_CMD_SCOPE ", a "
                            "second %%s for the board; it has %d",
                            cmd->cmd->name, nargs);
    }
    if (conf->scope && nargs != 2) {
        return apr_psprintf(cmd->pool, "%s: under " TB_CMD_SCOPE " (at "
                            "%s:%d) access is decided per board: the query "
                            "needs a second %%s for the board",
                            cmd->cmd->name, conf->scope->defn_file,
                            conf->scope->defn_line);
    }
    conf->authz_query = query;
    conf->authz_nargs = nargs;
    conf->authz_file = cmd->directive->filename;
    conf->authz_line = cmd->directive->line_num;
    return NULL;
}

static const char *cmd_read_only(cmd_parms *cmd, void *mconfig, int on)
{
    tb_dir_conf_t *conf = mconfig;
    const char *err = not_in_store(cmd, conf);

    if (err) {
        return err;
    }
    conf->read_only = on ? 1 : 0;
    return NULL;
}

static const char *cmd_param(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tb_dir_conf_t *conf = mconfig;
    const char *err = not_in_store(cmd, conf), *p;

    if (err) {
        return err;
    }
    for (p = arg; *p; p++) {
        if (!apr_isalnum(*p) && *p != '_' && *p != '-' && *p != '.') {
            break;
        }
    }
    if (!*arg || *p) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a plain parameter "
                            "name (letters, digits, _ - .)", cmd->cmd->name,
                            arg);
    }
    conf->param_name = arg;
    return NULL;
}

static const char *cmd_max_body(cmd_parms *cmd, void *mconfig,
                                const char *arg)
{
    tb_dir_conf_t *conf = mconfig;
    const char *err = not_in_store(cmd, conf);
    apr_int64_t bytes;

    if (err || (err = parse_number(cmd, "size", arg, 1,
                                   APR_INT64_C(1) << 30, &bytes))) {
        return err;
    }
    conf->max_body = (apr_off_t)bytes;
    return NULL;
}

static const char *cmd_max_records(cmd_parms *cmd, void *mconfig,
                                   const char *arg)
{
    tb_dir_conf_t *conf = mconfig;
    const char *err = not_in_store(cmd, conf);
    apr_int64_t records;

    if (err || (err = parse_number(cmd, "count", arg, 1, 10000000,
                                   &records))) {
        return err;
    }
    conf->max_records = (int)records;
    return NULL;
}

/* TaskBoardPhantomIdField and TaskBoardPhantomParentIdField. */
static const char *cmd_phantom(cmd_parms *cmd, void *mconfig,
                               const char *arg)
{
    tb_dir_conf_t *conf = mconfig;
    const char *err = not_in_store(cmd, conf);

    if (err) {
        return err;
    }
    if (!*arg) {
        return apr_psprintf(cmd->pool, "%s needs a field name",
                            cmd->cmd->name);
    }
    if (cmd->info) {
        conf->phantom_parent_field = arg;
    }
    else {
        conf->phantom_field = arg;
    }
    return NULL;
}

static const char *cmd_conflicts(cmd_parms *cmd, void *mconfig,
                                 const char *arg)
{
    tb_dir_conf_t *conf = mconfig;
    const char *err = not_in_store(cmd, conf);

    if (err) {
        return err;
    }
    if (strcasecmp(arg, "reject") == 0) {
        conf->conflicts = TB_CONFLICT_REJECT;
    }
    else if (strcasecmp(arg, "record") == 0) {
        conf->conflicts = TB_CONFLICT_RECORD;
    }
    else if (strcasecmp(arg, "off") == 0) {
        conf->conflicts = TB_CONFLICT_OFF;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: unknown policy '%s' (use "
                            "reject|record|off)", cmd->cmd->name, arg);
    }
    return NULL;
}

/* TaskBoardSyncResponse short|full: what a sync's answer mentions, as the
 * client's supportShortSyncResponse expects. */
static const char *cmd_sync_response(cmd_parms *cmd, void *mconfig,
                                     const char *arg)
{
    tb_dir_conf_t *conf = mconfig;
    const char *err = not_in_store(cmd, conf);

    if (err) {
        return err;
    }
    if (strcasecmp(arg, "short") == 0) {
        conf->sync_full = 0;
    }
    else if (strcasecmp(arg, "full") == 0) {
        conf->sync_full = 1;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: unknown answer '%s' (use "
                            "short|full)", cmd->cmd->name, arg);
    }
    return NULL;
}

static const char *cmd_journal(cmd_parms *cmd, void *mconfig,
                               const char *table, const char *seconds)
{
    tb_dir_conf_t *conf = mconfig;
    tb_journal_t *journal = apr_pcalloc(cmd->pool, sizeof(*journal));
    const char *err = not_in_store(cmd, conf);

    if (err) {
        return err;
    }
    if (!tb_is_identifier(table)) {
        return bad_identifier(cmd, "table", table);
    }
    journal->table = table;
    journal->retention = TB_DEFAULT_JOURNAL_RETENTION;
    journal->last_prune = apr_pcalloc(cmd->pool, TB_PRUNE_SLOTS
                                                 * sizeof(apr_uint32_t));
    if (seconds && (err = parse_number(cmd, "retention", seconds, 1,
                                       APR_INT64_C(10) * 365 * 24 * 3600,
                                       &journal->retention))) {
        return err;
    }
    journal->defn_file = cmd->directive->filename;
    journal->defn_line = cmd->directive->line_num;
    journal->scope = conf->scope;
    tb_sql_build_journal(cmd->pool, journal);
    conf->journal = journal;
    return NULL;
}

/* A time as httpd writes them: seconds, or with a unit (500ms, 2s, 5mi). */
static const char *parse_time(cmd_parms *cmd, const char *arg,
                              apr_interval_time_t min,
                              apr_interval_time_t *out)
{
    if (ap_timeout_parameter_parse(arg, out, "s") != APR_SUCCESS
        || *out < min || *out > apr_time_from_sec(24 * 3600)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a time between "
                            "%" APR_TIME_T_FMT " ms and 24 hours (write "
                            "seconds, or a number with ms, s, mi or h)",
                            cmd->cmd->name, arg, apr_time_as_msec(min));
    }
    return NULL;
}

static const char *cmd_events_time(cmd_parms *cmd, void *mconfig,
                                   const char *arg)
{
    tb_dir_conf_t *conf = mconfig;
    const char *err = not_in_store(cmd, conf);

    if (err) {
        return err;
    }
    if (cmd->info) {
        return parse_time(cmd, arg, apr_time_from_sec(1),
                          &conf->events_lifetime);
    }
    return parse_time(cmd, arg, apr_time_from_msec(100),
                      &conf->events_heartbeat);
}

static const char *cmd_events_poll(cmd_parms *cmd, void *mconfig,
                                   const char *arg)
{
    tb_server_conf_t *conf = ap_get_module_config(cmd->server->module_config,
                                                  &taskboard_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)mconfig;
    if (err) {
        return apr_psprintf(cmd->pool, "%s: the journal is polled by one "
                            "thread per httpd process, so its interval is "
                            "set once, in the main server configuration",
                            cmd->cmd->name);
    }
    return parse_time(cmd, arg, apr_time_from_msec(100), &conf->events_poll);
}

/* Streams are counted per process (the worker threads they hold are the
 * process's), so the limits are set once, for every location. */
static const char *cmd_events_max_streams(cmd_parms *cmd, void *mconfig,
                                          const char *streams_arg,
                                          const char *client_arg)
{
    tb_server_conf_t *conf = ap_get_module_config(cmd->server->module_config,
                                                  &taskboard_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_int64_t streams, client;

    (void)mconfig;
    if (err) {
        return apr_psprintf(cmd->pool, "%s: event streams are counted per "
                            "httpd process, so the limits are set once, in "
                            "the main server configuration", cmd->cmd->name);
    }
    if ((err = parse_number(cmd, "streams per process", streams_arg, 1,
                            100000, &streams))) {
        return err;
    }
    client = streams / 2 > 0 ? streams / 2 : 1;
    if (client_arg && (err = parse_number(cmd, "streams per client",
                                          client_arg, 1, streams,
                                          &client))) {
        return err;
    }
    conf->events_max_streams = (int)streams;
    conf->events_max_client = (int)client;
    conf->events_max_file = cmd->directive->filename;
    conf->events_max_line = cmd->directive->line_num;
    return NULL;
}

static const char *cmd_load_cache(cmd_parms *cmd, void *mconfig, int on)
{
    tb_dir_conf_t *conf = mconfig;
    const char *err = not_in_store(cmd, conf);

    if (err) {
        return err;
    }
    conf->load_cache = on;
    return NULL;
}

static const char *cmd_load_cache_size(cmd_parms *cmd, void *mconfig,
                                       const char *size_arg,
                                       const char *largest_arg)
{
    tb_server_conf_t *conf = ap_get_module_config(cmd->server->module_config,
                                                  &taskboard_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_int64_t size, largest;

    (void)mconfig;
    if (err) {
        return apr_psprintf(cmd->pool, "%s: the load cache belongs to the "
                            "httpd process, so its size is set once, in the "
                            "main server configuration", cmd->cmd->name);
    }
    if ((err = parse_number(cmd, "size", size_arg, 0,
                            APR_INT64_C(1) << 30, &size))) {
        return err;
    }
    largest = size < TB_DEFAULT_CACHE_LARGEST ? size
                                              : TB_DEFAULT_CACHE_LARGEST;
    if (largest_arg && (err = parse_number(cmd, "largest answer", largest_arg,
                                           1, size > 0 ? size : 1,
                                           &largest))) {
        return err;
    }
    conf->cache_size = (apr_size_t)size;
    conf->cache_largest = (apr_size_t)largest;
    return NULL;
}

static const char *cmd_ignore(cmd_parms *cmd, void *mconfig, const char *arg)
{
    tb_dir_conf_t *conf = mconfig;
    const char *err = not_in_store(cmd, conf);

    if (err) {
        return err;
    }
    if (!tb_is_identifier(arg)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a storeId",
                            cmd->cmd->name, arg);
    }
    if (!conf->ignored) {
        conf->ignored = apr_array_make(cmd->pool, 2, sizeof(char *));
    }
    APR_ARRAY_PUSH(conf->ignored, const char *) = arg;
    return NULL;
}

/* One origin per argument; several lines in one context add up, like
 * TaskBoardIgnoreStore, and an inner context's list replaces the outer. */
static const char *cmd_allow_origin(cmd_parms *cmd, void *mconfig,
                                    const char *arg)
{
    tb_dir_conf_t *conf = mconfig;
    const char *err = not_in_store(cmd, conf), *origin;

    if (err) {
        return err;
    }
    if ((err = tb_origin_normalize(cmd->pool, arg, &origin))) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    if (!conf->allow_origins) {
        conf->allow_origins = apr_array_make(cmd->pool, 2, sizeof(char *));
    }
    APR_ARRAY_PUSH(conf->allow_origins, const char *) = origin;
    return NULL;
}

static const char *cmd_retry_tables(cmd_parms *cmd, void *mconfig,
                                    const char *arg)
{
    tb_dir_conf_t *conf = mconfig;
    tb_idempotency_t *idem = apr_pcalloc(cmd->pool, sizeof(*idem));
    const char *err = not_in_store(cmd, conf), *seconds;

    if (err) {
        return err;
    }
    idem->last_prune = apr_pcalloc(cmd->pool, sizeof(apr_uint32_t));
    idem->phantom_table = ap_getword_conf(cmd->pool, &arg);
    idem->request_table = ap_getword_conf(cmd->pool, &arg);
    seconds = ap_getword_conf(cmd->pool, &arg);
    if (!*idem->phantom_table || !*idem->request_table || *arg) {
        return apr_psprintf(cmd->pool, "%s needs a phantom table, a request "
                            "table and optionally the seconds they are kept, "
                            "as in '%s taskboard_phantoms taskboard_requests "
                            "604800'", cmd->cmd->name, cmd->cmd->name);
    }
    if (!tb_is_identifier(idem->phantom_table)) {
        return bad_identifier(cmd, "table", idem->phantom_table);
    }
    if (!tb_is_identifier(idem->request_table)) {
        return bad_identifier(cmd, "table", idem->request_table);
    }
    idem->retention = TB_DEFAULT_RETENTION;
    if (*seconds && (err = parse_number(cmd, "retention", seconds, 60,
                                        APR_INT64_C(10) * 365 * 24 * 3600,
                                        &idem->retention))) {
        return err;
    }
    idem->scope = conf->scope;
    tb_sql_build_idempotency(cmd->pool, idem);
    conf->idempotency = idem;
    return NULL;
}

const command_rec tb_cmds[] = {
    AP_INIT_RAW_ARGS(TB_CMD_STORE, cmd_store_section, NULL,
                     RSRC_CONF | ACCESS_CONF,
                     "<TaskBoardStore storeId> ... </TaskBoardStore>: a "
                     "store served by this location"),
    AP_INIT_RAW_ARGS(TB_CMD_PROJECT, cmd_project_section, NULL,
                     RSRC_CONF | ACCESS_CONF,
                     "<TaskBoardProject table [keycolumn=value|keycolumn]> "
                     "... </TaskBoardProject>: the board's project, one row "
                     "loaded and synced as a plain object"),
    AP_INIT_TAKE1(TB_CMD_TABLE, cmd_table, NULL, RSRC_CONF | ACCESS_CONF,
                  "the table of the store (default: the storeId); inside "
                  "<TaskBoardStore> only"),
    AP_INIT_TAKE12(TB_CMD_ID, cmd_id, NULL, RSRC_CONF | ACCESS_CONF,
                   "the key column and its kind, auto|string "
                   "(default: id auto); inside <TaskBoardStore> only"),
    AP_INIT_RAW_ARGS(TB_CMD_ORDER, cmd_order, NULL, RSRC_CONF | ACCESS_CONF,
                     "columns to order the rows by, each optionally "
                     "followed by ASC or DESC (then by the key); inside "
                     "<TaskBoardStore> only"),
    AP_INIT_TAKE12(TB_CMD_TREE, cmd_tree, NULL, RSRC_CONF | ACCESS_CONF,
                   "parentField [orderField]: the store is a tree, loaded "
                   "as nested children in the order field's order; inside "
                   "<TaskBoardStore> only"),
    AP_INIT_RAW_ARGS(TB_CMD_FIELD, cmd_field, NULL, RSRC_CONF | ACCESS_CONF,
                     "name type [column=] [default=] [readonly] [required] "
                     "[maxlength=] [min=] [max=] [values=a,b] "
                     "[references=store] [stamp=created-by|updated-by|"
                     "created-at|updated-at] [alias=name,name]; inside "
                     "<TaskBoardStore> only"),
    AP_INIT_RAW_ARGS(TB_CMD_LAZY, cmd_lazy, NULL, RSRC_CONF | ACCESS_CONF,
                     "rows | span startField endField [maxdays=n] | follow: "
                     "how a lazy-loading client's params pick the store's "
                     "rows; inside <TaskBoardStore> only"),
    AP_INIT_TAKE2(TB_CMD_NESTED, cmd_nested, NULL, RSRC_CONF | ACCESS_CONF,
                  "parentField key: the store's rows go inside its parent "
                  "store's rows under key, in loads and syncs; inside "
                  "<TaskBoardStore> only"),
    AP_INIT_RAW_ARGS(TB_CMD_REVISION, cmd_revision, NULL,
                     RSRC_CONF | ACCESS_CONF,
                     "table column [keycolumn=value]: where the revision "
                     "lives; under TaskBoardScope: table column [keycolumn], "
                     "one row per board"),
    AP_INIT_TAKE23(TB_CMD_SCOPE, cmd_scope, NULL, RSRC_CONF | ACCESS_CONF,
                   "column env=NAME|param=NAME [int|string]: many boards in "
                   "the same tables, told apart by column; put it before "
                   "the stores"),
    AP_INIT_TAKE1(TB_CMD_AUTHZ_QUERY, cmd_authz_query, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "SQL whose first column says 'read' or 'write' for the "
                  "user (%s) and, under TaskBoardScope, the board (%s)"),
    AP_INIT_FLAG(TB_CMD_READ_ONLY, cmd_read_only, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "On|Off: syncs that change something are refused (403) "
                 "(default: Off)"),
    AP_INIT_TAKE1(TB_CMD_PARAM, cmd_param, NULL, RSRC_CONF | ACCESS_CONF,
                  "the query/form parameter carrying the package "
                  "(default: data)"),
    AP_INIT_TAKE1(TB_CMD_MAX_BODY, cmd_max_body, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "largest request body in bytes (default: 4194304)"),
    AP_INIT_TAKE1(TB_CMD_MAX_RECORDS, cmd_max_records, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "most records (added + updated + removed) in one sync "
                  "(default: 5000)"),
    AP_INIT_TAKE1(TB_CMD_PHANTOM, cmd_phantom, NULL, RSRC_CONF | ACCESS_CONF,
                  "the client's phantom id field (default: $PhantomId)"),
    AP_INIT_TAKE1(TB_CMD_PHANTOM_PARENT, cmd_phantom, (void *)1,
                  RSRC_CONF | ACCESS_CONF,
                  "the client's phantom parent id field "
                  "(default: $PhantomParentId)"),
    AP_INIT_TAKE1(TB_CMD_CONFLICTS, cmd_conflicts, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "reject|record|off: what a sync based on an old revision "
                  "gets: 409, 409 only when a record it changes was "
                  "changed since (needs TaskBoardJournal), or applied "
                  "(default: reject)"),
    AP_INIT_TAKE1(TB_CMD_SYNC_RESPONSE, cmd_sync_response, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "short|full: a sync's answer mentions the added records "
                  "and what the server changed, or every record it sent "
                  "(for clients with supportShortSyncResponse: false) "
                  "(default: short)"),
    AP_INIT_TAKE12(TB_CMD_JOURNAL, cmd_journal, NULL, RSRC_CONF | ACCESS_CONF,
                   "table [seconds]: journal every changed record, for "
                   "deltas, record conflicts and events (default "
                   "retention: 604800)"),
    AP_INIT_TAKE1(TB_CMD_EVENTS_POLL, cmd_events_poll, NULL, RSRC_CONF,
                  "how often each httpd process reads the journal for its "
                  "event subscribers: seconds, or with ms, s, mi or h "
                  "(default: 1s)"),
    AP_INIT_TAKE1(TB_CMD_EVENTS_HEARTBEAT, cmd_events_time, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "silence after which an event stream gets a comment line "
                  "(default: 20s)"),
    AP_INIT_TAKE1(TB_CMD_EVENTS_LIFETIME, cmd_events_time, (void *)1,
                  RSRC_CONF | ACCESS_CONF,
                  "how long an event stream stays open before the client "
                  "reconnects (default: 300s)"),
    AP_INIT_TAKE12(TB_CMD_EVENTS_MAX_STREAMS, cmd_events_max_streams, NULL,
                   RSRC_CONF,
                   "per-process [per-client]: the most event streams one "
                   "httpd process serves at once, and of them the most for "
                   "one client address or user (default: half of "
                   "ThreadsPerChild, and half of that)"),
    AP_INIT_RAW_ARGS(TB_CMD_RETRY, cmd_retry_tables, NULL,
                     RSRC_CONF | ACCESS_CONF,
                     "phantom-table request-table [seconds]: remember syncs "
                     "so that a retried one is not applied twice"),
    AP_INIT_FLAG(TB_CMD_LOAD_CACHE, cmd_load_cache, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "On|Off: serve loads from the process's cache of answers "
                 "while the revision is unchanged (default: On)"),
    AP_INIT_TAKE12(TB_CMD_LOAD_CACHE_SIZE, cmd_load_cache_size, NULL,
                   RSRC_CONF,
                   "bytes [largest-answer]: memory of the load cache per "
                   "httpd process, 0 for none (default: 33554432 8388608)"),
    AP_INIT_ITERATE(TB_CMD_IGNORE, cmd_ignore, NULL, RSRC_CONF | ACCESS_CONF,
                    "storeIds whose sync sections are accepted and dropped "
                    "(e.g. project calendars)"),
    AP_INIT_ITERATE(TB_CMD_ALLOW_ORIGIN, cmd_allow_origin, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "origins (scheme://host[:port]) whose pages may call "
                    "the load, sync and events handlers with credentials "
                    "(CORS)"),
    {NULL}
};
