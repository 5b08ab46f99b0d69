/* tb_sync_parse.c: decoding and checking a sync package.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * Decoding and checking a sync package, before the database sees any of
 * it: the shape (400), phantom references (400), and every value against
 * its field (422, all problems of the batch at once).
 */

#include <string.h>

#include <apr_hash.h>
#include <apr_sha1.h>
#include <apr_strings.h>

#include "tb_nested.h"
#include "tb_sync.h"
#include "tb_convert.h"
#include "tb_request.h"

/* Most entries a 422 lists: enough to fix a form, small enough to read. */
#define TB_MAX_INVALID 100

/* Longest phantom id kept in the phantom table (its column's size). */
#define TB_MAX_PHANTOM 191

typedef struct parse_t {
    apr_pool_t *pool;
    const tb_sync_conf_t *conf;
    tb_sync_t *sync;
    tb_sync_error_t *err;
    apr_hash_t *phantoms;   /* storeId -> hash of phantom -> tb_record_t * */
} parse_t;

static int fail(parse_t *p, int status, const char *message)
{
    p->err->status = status;
    p->err->message = message;
    return status;
}

static void invalid(parse_t *p, const tb_store_t *store,
                    const tb_record_t *rec, const char *field,
                    const char *message)
{
    tb_invalid_t *inv;

    if (p->sync->invalid->nelts >= TB_MAX_INVALID) {
        return;
    }
    inv = apr_array_push(p->sync->invalid);
    inv->store = store->id;
    inv->key_json = rec->key_json;
    inv->field = field;
    inv->message = message;
}

/* Sorts the served stores so that a store comes after every other store
 * its fields refer to (Kahn's algorithm, configured order on ties).
 * Stores that refer to each other in a cycle keep their configured order. */
static apr_array_header_t *parents_first(apr_pool_t *pool,
                                         const apr_array_header_t *stores)
{
    int n = stores->nelts, placed = 0, i, j, k, progress;
    char *done = apr_pcalloc(pool, n + 1);
    apr_array_header_t *order = apr_array_make(pool, n, sizeof(void *));

    while (placed < n) {
        progress = 0;
        for (i = 0; i < n; i++) {
            const tb_store_t *s = APR_ARRAY_IDX(stores, i, const tb_store_t *);
            int ready = 1;
            if (done[i]) {
                continue;
            }
            for (j = 0; ready && j < s->fields->nelts; j++) {
                const tb_field_t *f = APR_ARRAY_IDX(s->fields, j,
                                                    const tb_field_t *);
                if (!f->references || strcmp(f->references, s->id) == 0) {
                    continue;
                }
                for (k = 0; k < n; k++) {
                    const tb_store_t *t = APR_ARRAY_IDX(stores, k,
                                                        const tb_store_t *);
                    if (!done[k] && strcmp(t->id, f->references) == 0) {
                        ready = 0;
                    }
                }
            }
            if (ready) {
                done[i] = 1;
                placed++;
                progress = 1;
                APR_ARRAY_PUSH(order, const tb_store_t *) = s;
                break;      /* restart: keeps the configured order */
            }
        }
        if (!progress) {
            for (i = 0; i < n; i++) {
                if (!done[i]) {
                    done[i] = 1;
                    placed++;
                    APR_ARRAY_PUSH(order, const tb_store_t *) =
                        APR_ARRAY_IDX(stores, i, const tb_store_t *);
                }
            }
        }
    }
    return order;
}

static int is_ignored(const tb_sync_conf_t *conf, const char *id)
{
    int i;

    for (i = 0; conf->ignored && i < conf->ignored->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(conf->ignored, i, const char *), id) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The SQL text of a record id, or NULL when it has the wrong type. */
static const char *id_text(apr_pool_t *pool, const tb_store_t *store,
                           json_t *id)
{
    if (store->id_kind == TB_ID_AUTO) {
        apr_int64_t v;
        if (json_is_integer(id)) {
            return apr_psprintf(pool, "%" APR_INT64_T_FMT,
                                (apr_int64_t)json_integer_value(id));
        }
        if (json_is_string(id) && tb_parse_int64(json_string_value(id), &v)) {
            return apr_psprintf(pool, "%" APR_INT64_T_FMT, v);
        }
        return NULL;
    }
    if (json_is_string(id) && *json_string_value(id)) {
        return json_string_value(id);
    }
    if (json_is_integer(id)) {
        return apr_psprintf(pool, "%" APR_INT64_T_FMT,
                            (apr_int64_t)json_integer_value(id));
    }
    return NULL;
}

/* A phantom id as the client wrote it: a non-empty string (or a number). */
static const char *phantom_text(apr_pool_t *pool, json_t *v)
{
    if (json_is_string(v) && *json_string_value(v)) {
        return json_string_value(v);
    }
    if (json_is_integer(v)) {
        return apr_psprintf(pool, "%" APR_INT64_T_FMT,
                            (apr_int64_t)json_integer_value(v));
    }
    return NULL;
}

static tb_record_t *phantom_record(parse_t *p, const char *store_id,
                                   const char *phantom)
{
    apr_hash_t *h = apr_hash_get(p->phantoms, store_id, APR_HASH_KEY_STRING);

    return h ? apr_hash_get(h, phantom, APR_HASH_KEY_STRING) : NULL;
}

/* The text form of a configured default, as it is bound to SQL. */
static const char *default_sql(apr_pool_t *pool, const tb_field_t *field)
{
    const char *v = field->default_value;

    switch (field->type) {
    case TB_TYPE_BOOLEAN:
        return (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) ? "1" : "0";
    case TB_TYPE_DATETIME:
        return tb_datetime_to_utc_sql(pool, v);
    default:
        return v;
    }
}

/* The value a record gives a field, under its name or any of its aliases
 * (a Gantt sends a dependency's source as from, fromEvent and fromTask);
 * *used gets a bit per alias that was sent.  The same value under two
 * names is one value; different values are refused: which one the user
 * meant cannot be known. */
static int field_value(parse_t *p, const tb_store_t *store,
                       const tb_record_t *rec, const tb_field_t *f,
                       json_t *obj, json_t **value, unsigned int *used)
{
    const char *first = f->name;
    int k;

    *value = json_object_get(obj, f->name);
    *used = 0;
    for (k = 0; f->aliases && k < f->aliases->nelts; k++) {
        const char *alias = APR_ARRAY_IDX(f->aliases, k, const char *);
        json_t *v = json_object_get(obj, alias);
        if (!v) {
            continue;
        }
        *used |= 1u << k;
        if (!*value) {
            *value = v;
            first = alias;
        }
        else if (!json_equal(*value, v)) {
            return fail(p, 400, apr_psprintf(p->pool, "store '%s', record "
                        "{%s}: %s and %s are two names of one field and "
                        "hold different values", store->id, rec->key_json,
                        first, alias));
        }
    }
    return 0;
}

/* Reads the mapped fields of an added or updated record. */
static int read_fields(parse_t *p, const tb_store_t *store, json_t *obj,
                       tb_record_t *rec, int adding)
{
    const tb_sync_conf_t *conf = p->conf;
    json_t *parent_phantom = json_object_get(obj, conf->phantom_parent_field);
    int n = store->fields->nelts, i;

    rec->values = apr_pcalloc(p->pool, sizeof(char *) * (n + 1));
    rec->phantom_refs = apr_pcalloc(p->pool, sizeof(char *) * (n + 1));
    rec->sent = apr_pcalloc(p->pool, n + 1);
    rec->aliases_sent = apr_pcalloc(p->pool, sizeof(unsigned int) * (n + 1));

    for (i = 0; i < n; i++) {
        const tb_field_t *f = APR_ARRAY_IDX(store->fields, i,
                                            const tb_field_t *);
        json_t *value;
        const char *phantom = NULL, *msg;
        int rv;

        if (f->readonly) {
            continue;       /* loaded, never written */
        }
        if ((rv = field_value(p, store, rec, f, obj, &value,
                              &rec->aliases_sent[i]))) {
            return rv;
        }
        /* A tree child of a new parent: $PhantomParentId names it. */
        if (f->references && strcmp(f->references, store->id) == 0
            && parent_phantom && (!value || !json_is_integer(value))) {
            phantom = phantom_text(p->pool, parent_phantom);
            value = parent_phantom;
        }
        if (!value) {
            if (adding && f->default_value) {
                rec->values[i] = default_sql(p->pool, f);
                rec->sent[i] = 1;
            }
            else if (adding && f->required) {
                invalid(p, store, rec, f->name, "is required");
            }
            continue;
        }
        rec->sent[i] = 1;
        if (f->references && (json_is_string(value) || phantom)) {
            const tb_store_t *target = tb_store_find(conf->stores,
                                                  f->references);
            const char *text = phantom ? phantom
                                       : json_string_value(value);
            /* An id of a record added in this same sync: translated
             * once that record has its real id. */
            if (target && phantom_record(p, target->id, text)) {
                rec->phantom_refs[i] = text;
                continue;
            }
            if (!target || target->id_kind == TB_ID_AUTO) {
                apr_int64_t v;
                if (!phantom && tb_parse_int64(text, &v)) {
                    rec->values[i] = apr_psprintf(p->pool, "%"
                                                  APR_INT64_T_FMT, v);
                    continue;
                }
                return fail(p, 400, apr_psprintf(p->pool, "store '%s': "
                            "%s refers to '%s', which is neither an id nor "
                            "a record added to store '%s' in this sync",
                            store->id, f->name, text, f->references));
            }
        }
        msg = tb_client_value(p->pool, f, value, &rec->values[i]);
        if (msg) {
            invalid(p, store, rec, f->name, msg);
        }
        else if (f->required && (!rec->values[i] || !*rec->values[i])) {
            invalid(p, store, rec, f->name, "is required");
        }
    }
    return 0;
}

/* Returns the array member key of a section: NULL when absent or null. */
static int section_array(parse_t *p, const char *store_id, json_t *section,
                         const char *key, json_t **array)
{
    *array = json_object_get(section, key);
    if (*array && json_is_null(*array)) {
        *array = NULL;
    }
    if (*array && !json_is_array(*array)) {
        return fail(p, 400, apr_psprintf(p->pool, "store '%s': %s must be "
                                         "an array of records", store_id,
                                         key));
    }
    return 0;
}

static int parse_added(parse_t *p, tb_changes_t *ch, json_t *added)
{
    const tb_store_t *store = ch->store;
    apr_size_t i;
    int rv;

    for (i = 0; i < json_array_size(added); i++) {
        json_t *obj = json_array_get(added, i);
        tb_record_t *rec = apr_pcalloc(p->pool, sizeof(*rec));
        json_t *phantom;

        if (!json_is_object(obj)) {
            return fail(p, 400, apr_psprintf(p->pool, "store '%s': added[%"
                        APR_SIZE_T_FMT "] must be an object", store->id, i));
        }
        phantom = json_object_get(obj, p->conf->phantom_field);
        rec->phantom = phantom ? phantom_text(p->pool, phantom) : NULL;
        if (!rec->phantom) {
            return fail(p, 400, apr_psprintf(p->pool, "store '%s': added[%"
                        APR_SIZE_T_FMT "] has no %s, so its new id could not"
                        " be sent back", store->id, i,
                        p->conf->phantom_field));
        }
        if (strlen(rec->phantom) > TB_MAX_PHANTOM) {
            return fail(p, 400, apr_psprintf(p->pool, "store '%s': added[%"
                        APR_SIZE_T_FMT "]: %s is longer than %d bytes",
                        store->id, i, p->conf->phantom_field,
                        TB_MAX_PHANTOM));
        }
        rec->key_json = apr_pstrcat(p->pool,
                                    tb_json_quote(p->pool,
                                                  p->conf->phantom_field),
                                    ":", tb_json_encode(p->pool, phantom),
                                    NULL);
        if (store->id_kind == TB_ID_STRING) {
            json_t *id = json_object_get(obj, "id");
            rec->id = id ? id_text(p->pool, store, id) : NULL;
            if (!rec->id) {
                invalid(p, store, rec, "id", "is required: this store's "
                        "records have ids chosen by the client");
            }
        }
        APR_ARRAY_PUSH(ch->added, tb_record_t *) = rec;
    }
    /* Fields are read once every phantom of every store is known. */
    for (i = 0; i < json_array_size(added); i++) {
        tb_record_t *rec = APR_ARRAY_IDX(ch->added, i, tb_record_t *);
        if ((rv = read_fields(p, store, json_array_get(added, i), rec, 1))) {
            return rv;
        }
    }
    return 0;
}

/* Registers the phantom ids of a store's added records (first pass). */
static int register_phantoms(parse_t *p, const tb_store_t *store,
                             json_t *added)
{
    apr_hash_t *own = apr_hash_make(p->pool);
    apr_size_t i;

    apr_hash_set(p->phantoms, store->id, APR_HASH_KEY_STRING, own);
    for (i = 0; i < json_array_size(added); i++) {
        json_t *obj = json_array_get(added, i);
        json_t *v = json_is_object(obj)
                    ? json_object_get(obj, p->conf->phantom_field) : NULL;
        const char *phantom = v ? phantom_text(p->pool, v) : NULL;
        if (!phantom) {
            continue;       /* reported by parse_added */
        }
        if (apr_hash_get(own, phantom, APR_HASH_KEY_STRING)) {
            return fail(p, 400, apr_psprintf(p->pool, "store '%s': %s '%s' "
                        "appears twice in added", store->id,
                        p->conf->phantom_field, phantom));
        }
        /* a placeholder until parse_added makes the record */
        apr_hash_set(own, phantom, APR_HASH_KEY_STRING, p);
    }
    return 0;
}

/* A record of updated or removed: an object with the id of an existing
 * record. */
static int existing_record(parse_t *p, const tb_store_t *store,
                           const char *part, json_t *obj, apr_size_t i,
                           tb_record_t **out)
{
    json_t *id = json_is_object(obj) ? json_object_get(obj, "id") : NULL;
    tb_record_t *rec = apr_pcalloc(p->pool, sizeof(*rec));

    rec->id = id ? id_text(p->pool, store, id) : NULL;
    if (!rec->id) {
        return fail(p, 400, apr_psprintf(p->pool, "store '%s': %s[%"
                    APR_SIZE_T_FMT "] needs an id (%s)", store->id, part, i,
                    store->id_kind == TB_ID_AUTO ? "an integer"
                                                 : "a string"));
    }
    rec->key_json = apr_pstrcat(p->pool, "\"id\":",
                                tb_json_encode(p->pool, id), NULL);
    *out = rec;
    return 0;
}

static int parse_updated(parse_t *p, tb_changes_t *ch, json_t *updated,
                         apr_hash_t *seen)
{
    const tb_store_t *store = ch->store;
    apr_size_t i;
    int rv;

    for (i = 0; i < json_array_size(updated); i++) {
        json_t *obj = json_array_get(updated, i);
        tb_record_t *rec;

        if ((rv = existing_record(p, store, "updated", obj, i, &rec))) {
            return rv;
        }
        if (apr_hash_get(seen, rec->id, APR_HASH_KEY_STRING)) {
            return fail(p, 400, apr_psprintf(p->pool, "store '%s': record %s"
                        " is updated twice in one sync", store->id, rec->id));
        }
        apr_hash_set(seen, rec->id, APR_HASH_KEY_STRING, rec);
        if ((rv = read_fields(p, store, obj, rec, 0))) {
            return rv;
        }
        APR_ARRAY_PUSH(ch->updated, tb_record_t *) = rec;
    }
    return 0;
}

static int parse_removed(parse_t *p, tb_changes_t *ch, json_t *removed,
                         apr_hash_t *updated_ids)
{
    const tb_store_t *store = ch->store;
    apr_hash_t *seen = apr_hash_make(p->pool);
    apr_size_t i;

    for (i = 0; i < json_array_size(removed); i++) {
        json_t *obj = json_array_get(removed, i);
        tb_record_t *rec;
        int rv;

        if ((rv = existing_record(p, store, "removed", obj, i, &rec))) {
            return rv;
        }
        if (apr_hash_get(updated_ids, rec->id, APR_HASH_KEY_STRING)) {
            return fail(p, 400, apr_psprintf(p->pool, "store '%s': record %s"
                        " is both updated and removed", store->id, rec->id));
        }
        if (apr_hash_get(seen, rec->id, APR_HASH_KEY_STRING)) {
            continue;       /* listed twice: removed once */
        }
        apr_hash_set(seen, rec->id, APR_HASH_KEY_STRING, rec);
        APR_ARRAY_PUSH(ch->removed, tb_record_t *) = rec;
    }
    return 0;
}

/* A parent's link to one of its children, in the list of its children. */
typedef struct child_link_t {
    int child;                  /* the child's place in added */
    int next;                   /* the parent's next link, or -1 */
} child_link_t;

apr_array_header_t *tb_sync_order_added(apr_pool_t *pool,
                                        const tb_store_t *store,
                                        const apr_array_header_t *added,
                                        apr_size_t *steps)
{
    int n = added->nelts, nfields = store->fields->nelts;
    int *at = apr_palloc(pool, sizeof(int) * (n + 1));
    int *waiting = apr_pcalloc(pool, sizeof(int) * (n + 1));
    int *round = apr_pcalloc(pool, sizeof(int) * (n + 1));
    int *first = apr_palloc(pool, sizeof(int) * (n + 1));
    int *queue = apr_palloc(pool, sizeof(int) * (n + 1));
    int *start = apr_pcalloc(pool, sizeof(int) * (n + 2));
    apr_array_header_t *links = apr_array_make(pool, n + 1,
                                               sizeof(child_link_t));
    apr_array_header_t *sorted;
    apr_hash_t *index = apr_hash_make(pool);
    apr_size_t work = 0;
    int i, j, l, head = 0, tail = 0;

    for (i = 0; i < n; i++) {
        tb_record_t *rec = APR_ARRAY_IDX(added, i, tb_record_t *);
        at[i] = i;
        first[i] = -1;
        apr_hash_set(index, rec->phantom, APR_HASH_KEY_STRING, &at[i]);
        work++;
    }
    /* Each parent's children, as a list per parent. */
    for (i = 0; i < n; i++) {
        tb_record_t *rec = APR_ARRAY_IDX(added, i, tb_record_t *);
        for (j = 0; j < nfields; j++) {
            const tb_field_t *f = APR_ARRAY_IDX(store->fields, j,
                                                const tb_field_t *);
            const char *ref = rec->phantom_refs[j];
            child_link_t *link;
            int *parent;
            work++;
            if (!ref || strcmp(f->references, store->id) != 0
                || !(parent = apr_hash_get(index, ref,
                                           APR_HASH_KEY_STRING))) {
                continue;
            }
            link = apr_array_push(links);
            link->child = i;
            link->next = first[*parent];
            first[*parent] = links->nelts - 1;
            waiting[i]++;
        }
    }
    /* Parents before children (Kahn's algorithm), each record in the
     * round that taking, round after round, every record in sent order
     * whose parents are placed would give it: its last parent's round,
     * or the next one when that parent was sent after it. */
    for (i = 0; i < n; i++) {
        if (waiting[i] == 0) {
            queue[tail++] = i;
        }
    }
    while (head < tail) {
        int parent = queue[head++];
        for (l = first[parent]; l >= 0;
             l = APR_ARRAY_IDX(links, l, child_link_t).next) {
            int child = APR_ARRAY_IDX(links, l, child_link_t).child;
            int r = round[parent] + (parent > child ? 1 : 0);
            work++;
            if (r > round[child]) {
                round[child] = r;
            }
            if (--waiting[child] == 0) {
                queue[tail++] = child;
            }
        }
    }
    if (tail < n) {
        return NULL;            /* the rest wait for each other */
    }
    /* By round, and in sent order within one (a counting sort). */
    for (i = 0; i < n; i++) {
        start[round[i] + 1]++;
        work++;
    }
    for (i = 1; i <= n; i++) {
        start[i] += start[i - 1];
        work++;
    }
    sorted = apr_array_make(pool, n, sizeof(tb_record_t *));
    sorted->nelts = n;
    for (i = 0; i < n; i++) {
        APR_ARRAY_IDX(sorted, start[round[i]]++, tb_record_t *) =
            APR_ARRAY_IDX(added, i, tb_record_t *);
        work++;
    }
    if (steps) {
        *steps += work;
    }
    return sorted;
}

static int order_added(parse_t *p, tb_changes_t *ch)
{
    apr_array_header_t *sorted = tb_sync_order_added(p->pool, ch->store,
                                                     ch->added, NULL);

    if (!sorted) {
        return fail(p, 400, apr_psprintf(p->pool, "store '%s': added "
                    "records refer to each other in a cycle", ch->store->id));
    }
    ch->added = sorted;
    return 0;
}

/* Checks that an unserved section carries no changes. */
static int check_unserved(parse_t *p, const char *key, json_t *value)
{
    static const char *const parts[] = {"added", "updated", "removed"};
    int i;

    if (!json_is_object(value)) {
        return 0;           /* not a store section: app-specific data */
    }
    for (i = 0; i < 3; i++) {
        json_t *a = json_object_get(value, parts[i]);
        if (a && !json_is_null(a)
            && !(json_is_array(a) && json_array_size(a) == 0)) {
            if (is_ignored(p->conf, key)) {
                return 0;
            }
            return fail(p, 400, apr_psprintf(p->pool, "this server does not "
                        "save store '%s'; its changes were not saved",
                        key));
        }
    }
    return 0;
}

/* Identifies the body, for replaying an identical resend.  A full answer
 * is another answer to the same body: its hash differs, so that a
 * location with the other TaskBoardSyncResponse sharing the request table
 * never replays it. */
static const char *body_hash(apr_pool_t *pool, const char *text,
                             apr_size_t len, int full_answer)
{
    static const char full_mark[] = "\n(full answer)";
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    char *hex = apr_palloc(pool, 2 * APR_SHA1_DIGESTSIZE + 1);
    apr_sha1_ctx_t sha;
    int k;

    apr_sha1_init(&sha);
    apr_sha1_update_binary(&sha, (const unsigned char *)text,
                           (unsigned int)len);
    if (full_answer) {
        apr_sha1_update(&sha, full_mark, sizeof(full_mark) - 1);
    }
    apr_sha1_final(digest, &sha);
    for (k = 0; k < APR_SHA1_DIGESTSIZE; k++) {
        apr_snprintf(hex + 2 * k, 3, "%02x", digest[k]);
    }
    return hex;
}

/* The package's own members: type, requestId and revision; and the
 * sections of stores this location does not serve. */
static int parse_head(parse_t *p, json_t *package)
{
    tb_sync_t *sync = p->sync;
    json_t *value;
    const char *key, *msg;
    int rv;

    if (!json_is_object(package)) {
        return fail(p, 400, "the sync package must be a JSON object");
    }
    if ((msg = tb_request_id(p->pool, package, &sync->request_id))) {
        return fail(p, 400, msg);
    }
    value = json_object_get(package, "type");
    if (value && !(json_is_string(value)
                   && strcmp(json_string_value(value), "sync") == 0)) {
        return fail(p, 400, "this is the sync URL: the package type must "
                    "be \"sync\"");
    }
    value = json_object_get(package, "revision");
    if (value && !json_is_null(value)) {
        /* Revisions start at 1: a negative one is no revision, and
         * arithmetic on it could overflow. */
        if (!json_is_integer(value) || json_integer_value(value) < 0) {
            return fail(p, 400, "revision must be a revision number (an "
                        "integer of 0 or more)");
        }
        sync->has_revision = 1;
        sync->client_revision = json_integer_value(value);
    }
    json_object_foreach(package, key, value) {
        if (strcmp(key, "type") && strcmp(key, "requestId")
            && strcmp(key, "revision")
            && !tb_store_find(p->conf->stores, key)
            && !(p->conf->project && strcmp(key, TB_PROJECT_ID) == 0)
            && (rv = check_unserved(p, key, value))) {
            return rv;
        }
    }
    return 0;
}

/* Every served store gets an entry, parents first, so that cascades into
 * stores the client did not mention can be reported too; sections[i]
 * gets the section of the i-th (or NULL), and the phantom ids of every
 * store's added records are known before any reference is read. */
static int make_changes(parse_t *p, json_t *package, json_t ***sections)
{
    apr_pool_t *pool = p->pool;
    apr_array_header_t *order = parents_first(pool, p->conf->stores);
    int i, rv;

    /* The project comes last: nothing refers to it. */
    if (p->conf->project) {
        order = apr_array_copy(pool, order);
        APR_ARRAY_PUSH(order, const tb_store_t *) = p->conf->project;
    }
    p->sync->changes = apr_array_make(pool, order->nelts, sizeof(void *));
    *sections = apr_pcalloc(pool, sizeof(json_t *) * (order->nelts + 1));
    for (i = 0; i < order->nelts; i++) {
        tb_changes_t *ch = apr_pcalloc(pool, sizeof(*ch));
        json_t *section, *added;
        ch->store = APR_ARRAY_IDX(order, i, const tb_store_t *);
        ch->added = apr_array_make(pool, 0, sizeof(tb_record_t *));
        ch->updated = apr_array_make(pool, 0, sizeof(tb_record_t *));
        ch->removed = apr_array_make(pool, 0, sizeof(tb_record_t *));
        ch->rows_out = apr_array_make(pool, 0, sizeof(char *));
        ch->removed_out = apr_array_make(pool, 0, sizeof(char *));
        APR_ARRAY_PUSH(p->sync->changes, tb_changes_t *) = ch;

        section = json_object_get(package, ch->store->id);
        if (section && json_is_null(section)) {
            section = NULL;
        }
        if (section && !json_is_object(section) && ch->store->is_project) {
            return fail(p, 400, "project must be an object of the "
                        "project's fields");
        }
        if (section && !json_is_object(section)) {
            return fail(p, 400, apr_psprintf(pool, "store '%s': the section "
                        "must be an object with added, updated or removed",
                        ch->store->id));
        }
        (*sections)[i] = section;
        if (section && !ch->store->is_project) {
            if ((rv = section_array(p, ch->store->id, section, "added",
                                    &added))) {
                return rv;
            }
            if (added && (rv = register_phantoms(p, ch->store, added))) {
                return rv;
            }
        }
    }
    return 0;
}

/* 1 when the object sets a field the mapping writes. */
static int sets_a_field(const tb_store_t *store, json_t *obj)
{
    int i;

    for (i = 0; i < store->fields->nelts; i++) {
        const tb_field_t *f = APR_ARRAY_IDX(store->fields, i,
                                            const tb_field_t *);
        if (!f->readonly && json_object_get(obj, f->name)) {
            return 1;
        }
    }
    return 0;
}

/* The client's "project":{field:value,...}: an update of the project's
 * row, whose key is the board (bound by tb_sync_apply) or the declared
 * one.  An object that sets no field the mapping writes changes nothing
 * and is no record, so that a read-only user's client may send it. */
static int parse_project(parse_t *p, tb_changes_t *ch, json_t *section)
{
    const tb_store_t *project = ch->store;
    tb_record_t *rec;
    int rv;

    if (!sets_a_field(project, section)) {
        return 0;
    }
    p->sync->nrecords++;
    if (p->conf->read_only) {
        return fail(p, 403, "you may not change this board");
    }
    if (p->sync->nrecords > p->conf->max_records) {
        return fail(p, 400, apr_psprintf(p->pool, "the sync holds more "
                    "than %d records; save in smaller steps",
                    p->conf->max_records));
    }
    rec = apr_pcalloc(p->pool, sizeof(*rec));
    rec->id = project->project_key;
    rec->key_json = "\"id\":null";
    if ((rv = read_fields(p, project, section, rec, 0))) {
        return rv;
    }
    APR_ARRAY_PUSH(ch->updated, tb_record_t *) = rec;
    return 0;
}

/* The records of one store's section. */
static int parse_section(parse_t *p, tb_changes_t *ch, json_t *section)
{
    const tb_sync_conf_t *conf = p->conf;
    tb_sync_t *sync = p->sync;
    json_t *added, *updated, *removed;
    apr_hash_t *updated_ids = apr_hash_make(p->pool);
    int rv;

    if (ch->store->is_project) {
        return parse_project(p, ch, section);
    }
    if ((rv = section_array(p, ch->store->id, section, "added", &added))
        || (rv = section_array(p, ch->store->id, section, "updated",
                               &updated))
        || (rv = section_array(p, ch->store->id, section, "removed",
                               &removed))) {
        return rv;
    }
    sync->nrecords += (int)(json_array_size(added)
                            + json_array_size(updated)
                            + json_array_size(removed));
    /* Not the user's to change: refused before any value is read or
     * checked, so that the answer tells nothing of the stores. */
    if (conf->read_only && sync->nrecords > 0) {
        return fail(p, 403, "you may not change this board");
    }
    if (sync->nrecords > conf->max_records) {
        return fail(p, 400, apr_psprintf(p->pool, "the sync holds more "
                    "than %d records; save in smaller steps",
                    conf->max_records));
    }
    if ((added && (rv = parse_added(p, ch, added)))
        || (updated && (rv = parse_updated(p, ch, updated, updated_ids)))
        || (removed && (rv = parse_removed(p, ch, removed, updated_ids)))) {
        return rv;
    }
    return 0;
}

/* The placeholders of the phantom ids become their records (for the
 * translation of references), and each store's additions are put in the
 * order they can be inserted. */
static int link_phantoms(parse_t *p)
{
    int i, j, rv;

    for (i = 0; i < p->sync->changes->nelts; i++) {
        tb_changes_t *ch = APR_ARRAY_IDX(p->sync->changes, i,
                                         tb_changes_t *);
        apr_hash_t *own = apr_hash_get(p->phantoms, ch->store->id,
                                       APR_HASH_KEY_STRING);
        for (j = 0; own && j < ch->added->nelts; j++) {
            tb_record_t *rec = APR_ARRAY_IDX(ch->added, j, tb_record_t *);
            apr_hash_set(own, rec->phantom, APR_HASH_KEY_STRING, rec);
        }
        if ((rv = order_added(p, ch))) {
            return rv;
        }
    }
    return 0;
}

int tb_sync_parse(apr_pool_t *pool, const tb_sync_conf_t *conf,
                  const char *text, apr_size_t len, tb_sync_t **out,
                  tb_sync_error_t *err)
{
    parse_t p;
    tb_sync_t *sync = apr_pcalloc(pool, sizeof(*sync));
    json_t *package, **sections;
    const char *msg;
    int i, rv;

    memset(err, 0, sizeof(*err));
    p.pool = pool;
    p.conf = conf;
    p.sync = sync;
    p.err = err;
    p.phantoms = apr_hash_make(pool);
    sync->conf = conf;
    sync->phantoms = p.phantoms;
    sync->invalid = apr_array_make(pool, 4, sizeof(tb_invalid_t));
    *out = sync;

    if (len == 0) {
        return fail(&p, 400, "the sync request is empty");
    }
    sync->body_hash = body_hash(pool, text, len, conf->full_answer);
    if (!(package = tb_json_parse(pool, text, len, &msg))) {
        return fail(&p, 400, msg);
    }
    if ((rv = parse_head(&p, package))) {
        return rv;
    }
    /* nested changesets become records of their own stores */
    if ((msg = tb_nested_flatten(pool, conf, package, sync))) {
        return fail(&p, 400, msg);
    }
    if ((rv = make_changes(&p, package, &sections))) {
        return rv;
    }
    for (i = 0; i < sync->changes->nelts; i++) {
        if (sections[i]
            && (rv = parse_section(&p, APR_ARRAY_IDX(sync->changes, i,
                                                     tb_changes_t *),
                                   sections[i]))) {
            return rv;
        }
    }
    if ((rv = link_phantoms(&p))) {
        return rv;
    }
    if (sync->invalid->nelts > 0) {
        return fail(&p, 422, apr_psprintf(pool, "%d value%s could not be "
                    "saved; see errors", sync->invalid->nelts,
                    sync->invalid->nelts == 1 ? "" : "s"));
    }
    return 0;
}

tb_record_t *tb_sync_phantom(const tb_sync_t *sync, const char *store_id,
                             const char *phantom)
{
    apr_hash_t *own = sync->phantoms ? apr_hash_get(sync->phantoms, store_id,
                                                    APR_HASH_KEY_STRING)
                                     : NULL;

    return own ? apr_hash_get(own, phantom, APR_HASH_KEY_STRING) : NULL;
}
