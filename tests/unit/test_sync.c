/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

#include <apr_strings.h>

#include "tb_test.h"
#include "tb_convert.h"
#include "tb_sql.h"
#include "tb_sync.h"
#include "tb_answer.h"

static tb_field_t *field(apr_pool_t *p, tb_store_t *store, const char *name,
                         tb_type_e type, const char *references)
{
    tb_field_t *f = apr_pcalloc(p, sizeof(*f));

    f->name = name;
    f->column = name;
    f->type = type;
    f->references = references;
    f->json_key = apr_pstrcat(p, "\"", name, "\":", NULL);
    APR_ARRAY_PUSH(store->fields, tb_field_t *) = f;
    return f;
}

/* tb_client_value on a JSON text, for one field. */
static const char *value_of(tb_field_t *f, const char *json, const char **msg)
{
    const char *sql = "unset";
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);

    *msg = tb_client_value(tb_test_pool, f, v, &sql);
    json_decref(v);
    return sql;
}

static int parse(const tb_sync_conf_t *conf, const char *text, tb_sync_t **s,
                 tb_sync_error_t *err)
{
    return tb_sync_parse(tb_test_pool, conf, text, strlen(text), s, err);
}

static tb_changes_t *changes_of(tb_sync_t *s, const char *store_id)
{
    int i;

    for (i = 0; i < s->changes->nelts; i++) {
        tb_changes_t *ch = APR_ARRAY_IDX(s->changes, i, tb_changes_t *);
        if (strcmp(ch->store->id, store_id) == 0) {
            return ch;
        }
    }
    return NULL;
}

/* n added records of store tasks (parentId is its third field), record i
 * with phantom "p<i>" and, when parent[i] >= 0, the parent "p<parent[i]>". */
static apr_array_header_t *tree(const tb_store_t *tasks, const int *parent,
                                int n)
{
    apr_array_header_t *added = apr_array_make(tb_test_pool, n,
                                               sizeof(tb_record_t *));
    int i;

    for (i = 0; i < n; i++) {
        tb_record_t *rec = apr_pcalloc(tb_test_pool, sizeof(*rec));
        rec->phantom = apr_psprintf(tb_test_pool, "p%d", i);
        rec->phantom_refs = apr_pcalloc(tb_test_pool, sizeof(char *)
                                        * tasks->fields->nelts);
        if (parent[i] >= 0) {
            rec->phantom_refs[2] = apr_psprintf(tb_test_pool, "p%d",
                                                parent[i]);
        }
        APR_ARRAY_PUSH(added, tb_record_t *) = rec;
    }
    return added;
}

/* The phantom ids of the ordered records, "p1 p0 ...". */
static const char *phantoms_of(const apr_array_header_t *recs)
{
    const char *out = "";
    int i;

    for (i = 0; recs && i < recs->nelts; i++) {
        out = apr_pstrcat(tb_test_pool, out, i ? " " : "",
                          APR_ARRAY_IDX(recs, i, tb_record_t *)->phantom,
                          NULL);
    }
    return out;
}

void test_sync(void)
{
    apr_pool_t *p = tb_test_pool;
    apr_array_header_t *stores = apr_array_make(p, 3, sizeof(tb_store_t *));
    tb_store_t *tasks, *resources, *assignments;
    tb_field_t scratch, *name, *weight;
    tb_sync_conf_t conf;
    tb_sync_error_t err;
    tb_sync_t *s;
    tb_changes_t *ch;
    tb_record_t *rec;
    const char *msg, *sql;

    /* client values to SQL text */
    memset(&scratch, 0, sizeof(scratch));
    scratch.name = "x";
    scratch.type = TB_TYPE_INT;
    CHECK_STR(value_of(&scratch, "42", &msg), "42");
    CHECK_STR(value_of(&scratch, "7.0", &msg), "7");
    value_of(&scratch, "7.5", &msg);
    CHECK(msg != NULL);
    value_of(&scratch, "\"abc\"", &msg);
    CHECK(msg != NULL);
    CHECK_STR(value_of(&scratch, "null", &msg), NULL);
    CHECK(msg == NULL);
    scratch.has_min = scratch.has_max = 1;
    scratch.min = 0;
    scratch.max = 10;
    value_of(&scratch, "11", &msg);
    CHECK(msg != NULL && strstr(msg, "range"));
    scratch.has_min = scratch.has_max = 0;
    scratch.type = TB_TYPE_NUMBER;
    CHECK_STR(value_of(&scratch, "0.1", &msg), "0.1");
    CHECK_STR(value_of(&scratch, "100", &msg), "100");
    scratch.type = TB_TYPE_BOOLEAN;
    CHECK_STR(value_of(&scratch, "true", &msg), "1");
    CHECK_STR(value_of(&scratch, "0", &msg), "0");
    value_of(&scratch, "\"yes\"", &msg);
    CHECK(msg != NULL);
    scratch.type = TB_TYPE_DATE;
    CHECK_STR(value_of(&scratch, "\"2024-03-05\"", &msg), "2024-03-05");
    /* the day the user picked, not the UTC day */
    CHECK_STR(value_of(&scratch, "\"2024-03-05T00:00:00+02:00\"", &msg),
              "2024-03-05");
    value_of(&scratch, "\"2024-02-30\"", &msg);
    CHECK(msg != NULL);
    scratch.type = TB_TYPE_DATETIME;
    CHECK_STR(value_of(&scratch, "\"2024-03-05T10:30:00+01:00\"", &msg),
              "2024-03-05 09:30:00");
    scratch.type = TB_TYPE_JSON;
    CHECK_STR(value_of(&scratch, "{\"a\": [1, 2]}", &msg), "{\"a\":[1,2]}");
    scratch.type = TB_TYPE_STRING;
    scratch.max_length = 2;
    value_of(&scratch, "\"abc\"", &msg);
    CHECK(msg != NULL);

    /* stored versus written */
    CHECK(tb_db_value_equal(TB_TYPE_NUMBER, "100", "100.00"));
    CHECK(!tb_db_value_equal(TB_TYPE_NUMBER, "100.5", "100.00"));
    CHECK(tb_db_value_equal(TB_TYPE_DATETIME, "2024-03-05 09:30:00",
                            "2024-03-05 09:30:00"));
    CHECK(tb_db_value_equal(TB_TYPE_DATETIME, "2024-03-05 09:30:00.500",
                            "2024-03-05 09:30:00.5"));
    CHECK(!tb_db_value_equal(TB_TYPE_DATETIME, "2024-03-05 09:30:00.123",
                             "2024-03-05 09:30:00"));
    CHECK(tb_db_value_equal(TB_TYPE_JSON, "{\"a\":1}", "{\"a\": 1}"));
    CHECK(tb_db_value_equal(TB_TYPE_INT, NULL, NULL));
    CHECK(!tb_db_value_equal(TB_TYPE_STRING, "x", NULL));

    /* a board: assignments refer to tasks and resources, tasks to tasks */
    assignments = tb_store_create(p, "assignments");
    field(p, assignments, "eventId", TB_TYPE_INT, "tasks");
    field(p, assignments, "resourceId", TB_TYPE_INT, "resources");
    tasks = tb_store_create(p, "tasks");
    name = field(p, tasks, "name", TB_TYPE_STRING, NULL);
    name->required = 1;
    weight = field(p, tasks, "weight", TB_TYPE_INT, NULL);
    weight->default_value = "5";
    field(p, tasks, "parentId", TB_TYPE_INT, "tasks");
    resources = tb_store_create(p, "resources");
    field(p, resources, "name", TB_TYPE_STRING, NULL);
    APR_ARRAY_PUSH(stores, tb_store_t *) = assignments;
    APR_ARRAY_PUSH(stores, tb_store_t *) = tasks;
    APR_ARRAY_PUSH(stores, tb_store_t *) = resources;
    tb_sql_build_store(p, assignments);
    tb_sql_build_store(p, tasks);
    tb_sql_build_store(p, resources);

    memset(&conf, 0, sizeof(conf));
    conf.stores = stores;
    conf.conflicts = TB_CONFLICT_REJECT;
    conf.max_records = 10;
    conf.phantom_field = "$PhantomId";
    conf.phantom_parent_field = "$PhantomParentId";

    /* parents first, whatever the configured order */
    CHECK(parse(&conf, "{\"type\":\"sync\",\"requestId\":9}", &s, &err)
          == 0);
    CHECK(s->nrecords == 0 && s->changes->nelts == 3);
    CHECK_STR(APR_ARRAY_IDX(s->changes, 2, tb_changes_t *)->store->id,
              "assignments");

    /* a phantom chain, children listed before their parents */
    CHECK(parse(&conf, "{\"revision\":3,\"assignments\":{\"added\":[{"
                "\"$PhantomId\":\"a1\",\"eventId\":\"t2\",\"resourceId\":"
                "\"r1\"}]},\"tasks\":{\"added\":[{\"$PhantomId\":\"t2\","
                "\"name\":\"child\",\"$PhantomParentId\":\"t1\"},{"
                "\"$PhantomId\":\"t1\",\"name\":\"parent\",\"junk\":[1]}]},"
                "\"resources\":{\"added\":[{\"$PhantomId\":\"r1\",\"name\":"
                "\"r\"}]}}", &s, &err) == 0);
    CHECK(s->has_revision && s->client_revision == 3 && s->nrecords == 4);
    ch = changes_of(s, "tasks");
    rec = APR_ARRAY_IDX(ch->added, 0, tb_record_t *);
    CHECK_STR(rec->phantom, "t1");          /* the parent goes first */
    CHECK_STR(rec->values[1], "5");         /* weight's default */
    rec = APR_ARRAY_IDX(ch->added, 1, tb_record_t *);
    CHECK_STR(rec->phantom_refs[2], "t1");
    rec = APR_ARRAY_IDX(changes_of(s, "assignments")->added, 0,
                        tb_record_t *);
    CHECK_STR(rec->phantom_refs[0], "t2");
    CHECK_STR(rec->phantom_refs[1], "r1");
    CHECK(tb_sync_phantom(s, "resources", "r1") != NULL);

    /* 400: shape, unknown phantoms, limits, unserved stores */
    CHECK(parse(&conf, "[]", &s, &err) == 400);
    CHECK(parse(&conf, "{\"tasks\":{\"added\":{}}}", &s, &err) == 400);
    CHECK(parse(&conf, "{\"tasks\":{\"added\":[{\"name\":\"x\"}]}}", &s, &err)
          == 400 && strstr(err.message, "$PhantomId"));
    CHECK(parse(&conf, "{\"assignments\":{\"added\":[{\"$PhantomId\":\"a\","
                "\"eventId\":\"nope\",\"resourceId\":1}]}}", &s, &err) == 400
          && strstr(err.message, "nope"));
    CHECK(parse(&conf, "{\"tasks\":{\"updated\":[{\"id\":1}],\"removed\":"
                "[{\"id\":1}]}}", &s, &err) == 400);
    CHECK(parse(&conf, "{\"tasks\":{\"added\":[{\"$PhantomId\":\"x\","
                "\"name\":\"a\"},{\"$PhantomId\":\"x\",\"name\":\"b\"}]}}",
                &s, &err) == 400);
    CHECK(parse(&conf, "{\"project\":{\"updated\":[{\"id\":1}]}}", &s, &err)
          == 400 && strstr(err.message, "project"));
    CHECK(parse(&conf, "{\"tasks\":{\"removed\":[{\"id\":1},{\"id\":2},"
                "{\"id\":3},{\"id\":4},{\"id\":5},{\"id\":6},{\"id\":7},"
                "{\"id\":8},{\"id\":9},{\"id\":10},{\"id\":11}]}}", &s, &err)
          == 400 && strstr(err.message, "10"));
    /* a tree cycle */
    CHECK(parse(&conf, "{\"tasks\":{\"added\":[{\"$PhantomId\":\"a\","
                "\"name\":\"a\",\"parentId\":\"b\"},{\"$PhantomId\":\"b\","
                "\"name\":\"b\",\"parentId\":\"a\"}]}}", &s, &err) == 400);

    /* found by the fuzzer: a lone record that is its own parent */
    CHECK(parse(&conf, "{\"tasks\":{\"added\":[{\"$PhantomId\":\"a\","
                "\"name\":\"a\",\"parentId\":\"a\"}]}}", &s, &err) == 400);

    /* 422: every problem of the batch */
    CHECK(parse(&conf, "{\"tasks\":{\"added\":[{\"$PhantomId\":\"x\"}],"
                "\"updated\":[{\"id\":4,\"weight\":\"abc\",\"name\":null}]}}",
                &s, &err) == 422);
    CHECK(s->invalid->nelts == 3);
    sql = APR_ARRAY_IDX(s->invalid, 0, tb_invalid_t).key_json;
    CHECK_STR(sql, "\"$PhantomId\":\"x\"");

    /* a negative revision: 400 before any arithmetic on it */
    CHECK(parse(&conf, "{\"revision\":-9223372036854775808}", &s, &err)
          == 400 && strstr(err.message, "revision"));
    CHECK(parse(&conf, "{\"revision\":-1,\"tasks\":{\"removed\":[{\"id\":"
                "1}]}}", &s, &err) == 400);
    CHECK(parse(&conf, "{\"revision\":0}", &s, &err) == 0);

    /* not the user's to change: 403 before any value is looked at, so
     * the answer names no field; an empty sync (a poll) is fine */
    conf.read_only = 1;
    CHECK(parse(&conf, "{\"tasks\":{\"added\":[{\"$PhantomId\":\"x\"}],"
                "\"updated\":[{\"id\":4,\"weight\":\"abc\"}]}}", &s, &err)
          == 403 && s->invalid->nelts == 0 && !strstr(err.message, "weight"));
    CHECK(parse(&conf, "{\"type\":\"sync\",\"revision\":3}", &s, &err) == 0);
    conf.read_only = 0;

    /* parents first, otherwise in sent order: round after round, every
     * record whose parents are placed */
    {
        static const int back[] = {1, -1, -1, 0};   /* p0 -> p1, p3 -> p0 */
        static const int cycle[] = {1, 0, -1};
        static const int self[] = {0};
        apr_size_t small = 0, large = 0;
        int *chain, n;

        CHECK_STR(phantoms_of(tb_sync_order_added(p, tasks,
                                                  tree(tasks, back, 4),
                                                  NULL)),
                  "p1 p2 p0 p3");
        CHECK(tb_sync_order_added(p, tasks, tree(tasks, cycle, 3), NULL)
              == NULL);
        CHECK(tb_sync_order_added(p, tasks, tree(tasks, self, 1), NULL)
              == NULL);

        /* a chain sent children first (each record the parent of the one
         * before): linear work, where taking round after round over all
         * records costs n * n / 2 steps */
        for (n = 1000; n <= 4000; n += 3000) {
            apr_array_header_t *sorted;
            apr_size_t steps = 0;
            int i;
            chain = apr_palloc(p, sizeof(int) * n);
            for (i = 0; i < n; i++) {
                chain[i] = i + 1 < n ? i + 1 : -1;
            }
            sorted = tb_sync_order_added(p, tasks, tree(tasks, chain, n),
                                         &steps);
            CHECK(sorted && sorted->nelts == n);
            CHECK_STR(APR_ARRAY_IDX(sorted, 0, tb_record_t *)->phantom,
                      apr_psprintf(p, "p%d", n - 1));
            CHECK_STR(APR_ARRAY_IDX(sorted, n - 1, tb_record_t *)->phantom,
                      "p0");
            *(n == 1000 ? &small : &large) = steps;
        }
        CHECK(large <= 10 * 4000);
        CHECK(large <= 5 * small);
    }
}
