/* tb_nested.c: stores whose rows travel inside their parent's rows.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "tb_nested.h"

/* Where a nested record came from: its parent's phantom id (a parent added
 * in the same sync) or its parent's id as the client sent it (JSON). */
typedef struct nested_link_t {
    const tb_store_t *parent;
    const char *parent_phantom;
    const char *parent_id_json;
} nested_link_t;

/* A record's id or phantom id as text: a number's digits, a string's
 * characters; NULL for anything else. */
static const char *key_text(apr_pool_t *pool, json_t *value)
{
    if (json_is_string(value)) {
        return json_string_value(value);
    }
    if (json_is_integer(value)) {
        /* APR's formatter has no %lld: its own 64-bit format */
        return apr_psprintf(pool, "%" APR_INT64_T_FMT,
                            (apr_int64_t)json_integer_value(value));
    }
    return NULL;
}

/* The links of one sync, by nested store, kind ('p'hantom or 'i'd) and
 * key: "store/kind/key" (a storeId is an identifier, without '/'). */
static const char *link_key(apr_pool_t *pool, const tb_store_t *store,
                            char kind, const char *key)
{
    return apr_psprintf(pool, "%s/%c/%s", store->id, kind, key);
}

static void remember(apr_pool_t *pool, tb_sync_t *sync,
                     const tb_store_t *store, char kind, const char *key,
                     const nested_link_t *link)
{
    if (!sync->nested_links) {
        sync->nested_links = apr_hash_make(pool);
    }
    apr_hash_set(sync->nested_links, link_key(pool, store, kind, key),
                 APR_HASH_KEY_STRING, link);
}

static const nested_link_t *find_link(apr_pool_t *pool, const tb_sync_t *sync,
                                      const tb_store_t *store, char kind,
                                      const char *key)
{
    if (!sync->nested_links || !key) {
        return NULL;
    }
    return apr_hash_get(sync->nested_links, link_key(pool, store, kind, key),
                        APR_HASH_KEY_STRING);
}

/* The nested store's section of the package, and its array part, made
 * when the client sent none. */
static const char *target_array(apr_pool_t *pool, json_t *package,
                                const tb_store_t *child, const char *part,
                                json_t **array)
{
    json_t *section = json_object_get(package, child->id);

    *array = NULL;
    if (!section || json_is_null(section)) {
        section = json_object();
        json_object_set_new(package, child->id, section);
    }
    if (!json_is_object(section)) {
        return apr_psprintf(pool, "store '%s': the section must be an object "
                            "with added, updated or removed", child->id);
    }
    *array = json_object_get(section, part);
    if (!*array || json_is_null(*array)) {
        *array = json_array();
        json_object_set_new(section, part, *array);
    }
    if (!json_is_array(*array)) {
        return apr_psprintf(pool, "store '%s': %s must be an array",
                            child->id, part);
    }
    return NULL;
}

/* Moves one part (added, updated, removed) of a record's nested
 * changeset into the nested store's section. */
static const char *move_part(apr_pool_t *pool, const tb_sync_conf_t *conf,
                             json_t *package, tb_sync_t *sync,
                             const tb_store_t *child, const char *part,
                             json_t *items, json_t *parent_ref,
                             const nested_link_t *link)
{
    int is_added = strcmp(part, "added") == 0;
    json_t *array = NULL, *item;
    const char *msg, *key;
    size_t i;

    if (!items || json_is_null(items)) {
        return NULL;
    }
    if (!json_is_array(items)) {
        return apr_psprintf(pool, "store '%s': %s.%s must be an array",
                            link->parent->id, child->nested_key, part);
    }
    if ((msg = target_array(pool, package, child, part, &array))) {
        return msg;
    }
    json_array_foreach(items, i, item) {
        if (!json_is_object(item)) {
            return apr_psprintf(pool, "store '%s': %s.%s holds a value that "
                                "is not a record", link->parent->id,
                                child->nested_key, part);
        }
        if (is_added) {
            /* the parent, by id or by the phantom id that the sync
             * translates like any reference */
            json_object_set(item, child->nested_field, parent_ref);
            key = key_text(pool, json_object_get(item, conf->phantom_field));
        }
        else {
            key = key_text(pool, json_object_get(item, "id"));
        }
        if (key) {
            remember(pool, sync, child, is_added ? 'p' : 'i', key, link);
        }
        json_array_append(array, item);
    }
    return NULL;
}

/* The nested changesets of one parent record. */
static const char *flatten_record(apr_pool_t *pool,
                                  const tb_sync_conf_t *conf,
                                  json_t *package, tb_sync_t *sync,
                                  const tb_store_t *parent, int added,
                                  json_t *rec)
{
    static const char *const parts[] = {"added", "updated", "removed"};
    json_t *parent_ref;
    nested_link_t *link;
    const char *msg;
    int c, k;

    for (c = 0; c < parent->children->nelts; c++) {
        const tb_store_t *child = APR_ARRAY_IDX(parent->children, c,
                                                const tb_store_t *);
        json_t *nest = json_object_get(rec, child->nested_key);

        if (!nest || json_is_null(nest)) {
            continue;
        }
        parent_ref = json_object_get(rec, added ? conf->phantom_field
                                                : "id");
        if (!key_text(pool, parent_ref)) {
            return apr_psprintf(pool, "store '%s': a record with %s needs "
                                "its %s", parent->id, child->nested_key,
                                added ? conf->phantom_field : "id");
        }
        link = apr_pcalloc(pool, sizeof(*link));
        link->parent = parent;
        if (added) {
            link->parent_phantom = key_text(pool, parent_ref);
        }
        else {
            link->parent_id_json = tb_json_encode(pool, parent_ref);
        }
        /* A new parent may carry its nested rows as a plain array. */
        if (json_is_array(nest) && added) {
            msg = move_part(pool, conf, package, sync, child, "added", nest,
                            parent_ref, link);
        }
        else if (!json_is_object(nest)) {
            msg = apr_psprintf(pool, "store '%s': %s must be an object with "
                               "added, updated or removed", parent->id,
                               child->nested_key);
        }
        else {
            for (k = 0, msg = NULL; k < 3 && !msg; k++) {
                msg = move_part(pool, conf, package, sync, child, parts[k],
                                json_object_get(nest, parts[k]), parent_ref,
                                link);
            }
        }
        if (msg) {
            return msg;
        }
        json_object_del(rec, child->nested_key);
    }
    return NULL;
}

const char *tb_nested_flatten(apr_pool_t *pool, const tb_sync_conf_t *conf,
                              json_t *package, tb_sync_t *sync)
{
    const char *msg;
    json_t *section, *records, *rec;
    size_t j;
    int i, added;

    for (i = 0; i < conf->stores->nelts; i++) {
        const tb_store_t *parent = APR_ARRAY_IDX(conf->stores, i,
                                                 const tb_store_t *);
        if (!parent->children
            || !json_is_object(section = json_object_get(package,
                                                         parent->id))) {
            continue;
        }
        for (added = 1; added >= 0; added--) {
            records = json_object_get(section, added ? "added" : "updated");
            if (!json_is_array(records)) {
                continue;       /* tb_sync_parse says what is wrong */
            }
            json_array_foreach(records, j, rec) {
                if (json_is_object(rec)
                    && (msg = flatten_record(pool, conf, package, sync,
                                             parent, added, rec))) {
                    return msg;
                }
            }
        }
    }
    return NULL;
}

/************************* the answer, regrouped *************************/

/* The nested rows and removals of one parent row of the answer. */
typedef struct nested_group_t {
    const nested_link_t *link;
    const tb_store_t *child;
    apr_array_header_t *rows;       /* JSON texts */
    apr_array_header_t *removed;    /* JSON texts of ids */
    struct nested_group_t *next;
} nested_group_t;

static nested_group_t *group_of(apr_pool_t *pool, nested_group_t **groups,
                                const nested_link_t *link,
                                const tb_store_t *child)
{
    nested_group_t *g;

    for (g = *groups; g; g = g->next) {
        if (g->link->parent == link->parent && g->child == child
            && ((link->parent_phantom && g->link->parent_phantom
                 && strcmp(link->parent_phantom, g->link->parent_phantom)
                    == 0)
                || (link->parent_id_json && g->link->parent_id_json
                    && strcmp(link->parent_id_json, g->link->parent_id_json)
                       == 0))) {
            return g;
        }
    }
    g = apr_pcalloc(pool, sizeof(*g));
    g->link = link;
    g->child = child;
    g->rows = apr_array_make(pool, 2, sizeof(char *));
    g->removed = apr_array_make(pool, 0, sizeof(char *));
    g->next = *groups;
    *groups = g;
    return g;
}

/* Takes a nested store's rows and removals that came from parents out of
 * its section, into groups; what did not come from a parent stays. */
static void take_out(apr_pool_t *pool, const tb_sync_t *sync,
                     tb_changes_t *ch, nested_group_t **groups)
{
    apr_array_header_t *rows = apr_array_make(pool, ch->rows_out->nelts,
                                              sizeof(char *));
    apr_array_header_t *removed = apr_array_make(pool, 0, sizeof(char *));
    const nested_link_t *link;
    int j;

    for (j = 0; j < ch->rows_out->nelts; j++) {
        const char *text = APR_ARRAY_IDX(ch->rows_out, j, const char *);
        const char *ignored;
        json_t *row = tb_json_parse(pool, text, strlen(text), &ignored);
        const char *phantom = row ? key_text(pool, json_object_get(
                                        row, sync->conf->phantom_field))
                                  : NULL;

        link = phantom ? find_link(pool, sync, ch->store, 'p', phantom)
                       : find_link(pool, sync, ch->store, 'i',
                                   row ? key_text(pool, json_object_get(
                                                      row, "id"))
                                       : NULL);
        if (link) {
            APR_ARRAY_PUSH(group_of(pool, groups, link, ch->store)->rows,
                           const char *) = text;
        }
        else {
            APR_ARRAY_PUSH(rows, const char *) = text;
        }
    }
    for (j = 0; j < ch->removed_out->nelts; j++) {
        const char *id = APR_ARRAY_IDX(ch->removed_out, j, const char *);

        link = find_link(pool, sync, ch->store, 'i', id);
        if (link) {
            APR_ARRAY_PUSH(group_of(pool, groups, link, ch->store)->removed,
                           const char *) =
                ch->store->id_kind == TB_ID_AUTO ? id
                                                 : tb_json_quote(pool, id);
        }
        else {
            APR_ARRAY_PUSH(removed, const char *) = id;
        }
    }
    ch->rows_out = rows;
    ch->removed_out = removed;
}

/* ,"key":{"rows":[…],"removed":[{"id":…}]} of one group. */
static const char *group_text(apr_pool_t *pool, const nested_group_t *g)
{
    const char *text = apr_pstrcat(pool, g->child->nested_key_json, "{",
                                   NULL);
    int j;

    if (g->rows->nelts) {
        text = apr_pstrcat(pool, text, "\"rows\":[",
                           apr_array_pstrcat(pool, g->rows, ','), "]",
                           NULL);
    }
    for (j = 0; j < g->removed->nelts; j++) {
        text = apr_pstrcat(pool, text,
                           j ? ",{\"id\":"
                             : (g->rows->nelts ? ",\"removed\":[{\"id\":"
                                               : "\"removed\":[{\"id\":"),
                           APR_ARRAY_IDX(g->removed, j, const char *), "}",
                           j == g->removed->nelts - 1 ? "]" : "", NULL);
    }
    return apr_pstrcat(pool, text, "}", NULL);
}

/* 1 when the answer's row (JSON text) is the group's parent. */
static int is_parent_row(apr_pool_t *pool, const tb_sync_t *sync,
                         const char *text, const nested_link_t *link)
{
    const char *ignored;
    json_t *row = tb_json_parse(pool, text, strlen(text), &ignored);
    json_t *id;

    if (!row) {
        return 0;
    }
    if (link->parent_phantom) {
        const char *phantom = key_text(pool, json_object_get(
                                                 row,
                                                 sync->conf->phantom_field));
        return phantom && strcmp(phantom, link->parent_phantom) == 0;
    }
    id = json_object_get(row, "id");
    return id && strcmp(tb_json_encode(pool, id), link->parent_id_json) == 0;
}

/* Puts a group inside its parent's row of the answer, or a row of its
 * own ({"id":…} and the group) when the parent has none. */
static void put_back(apr_pool_t *pool, const tb_sync_t *sync,
                     const nested_group_t *g)
{
    tb_changes_t *pch = NULL;
    const char *inner = group_text(pool, g), **row;
    int i;

    for (i = 0; i < sync->changes->nelts; i++) {
        tb_changes_t *ch = APR_ARRAY_IDX(sync->changes, i, tb_changes_t *);
        if (ch->store == g->link->parent) {
            pch = ch;
        }
    }
    if (!pch) {
        return;
    }
    for (i = 0; i < pch->rows_out->nelts; i++) {
        row = &APR_ARRAY_IDX(pch->rows_out, i, const char *);
        if (is_parent_row(pool, sync, *row, g->link)) {
            /* the row's closing brace makes way for the group */
            *row = apr_pstrcat(pool, apr_pstrndup(pool, *row,
                                                  strlen(*row) - 1),
                               inner, "}", NULL);
            return;
        }
    }
    if (g->link->parent_id_json) {
        APR_ARRAY_PUSH(pch->rows_out, const char *) =
            apr_pstrcat(pool, "{\"id\":", g->link->parent_id_json, inner,
                        "}", NULL);
    }
}

void tb_nested_regroup(apr_pool_t *pool, tb_sync_t *sync)
{
    nested_group_t *groups = NULL, *g;
    int i;

    if (!sync->nested_links) {
        return;
    }
    for (i = 0; i < sync->changes->nelts; i++) {
        tb_changes_t *ch = APR_ARRAY_IDX(sync->changes, i, tb_changes_t *);
        if (ch->store->nested_in) {
            take_out(pool, sync, ch, &groups);
        }
    }
    for (g = groups; g; g = g->next) {
        put_back(pool, sync, g);
    }
}
