/* test_nested.c: unit cases of nested stores in a sync (tb_nested.c).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/* tb_nested.c: a calendar's intervals taken out of the calendar's record
 * into their own store's section, and put back under it in the answer. */

#include <apr_strings.h>

#include "tb_test.h"
#include "tb_nested.h"

/* calendars (string ids) with intervals nested under "intervals" */
static tb_sync_conf_t *calendar_conf(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_sync_conf_t *conf = apr_pcalloc(p, sizeof(*conf));
    apr_array_header_t *stores = apr_array_make(p, 2, sizeof(tb_store_t *));
    tb_store_t *calendars = tb_store_create(p, "calendars");
    tb_store_t *intervals = tb_store_create(p, "intervals");
    tb_field_t *calendar = apr_pcalloc(p, sizeof(*calendar));

    calendars->id_kind = TB_ID_STRING;
    calendars->id_field.type = TB_TYPE_STRING;
    calendar->name = calendar->column = "calendar";
    calendar->type = TB_TYPE_STRING;
    calendar->references = "calendars";
    APR_ARRAY_PUSH(intervals->fields, tb_field_t *) = calendar;
    intervals->nested_field = "calendar";
    intervals->nested_key = "intervals";
    intervals->nested_key_json = ",\"intervals\":";
    intervals->nested_in = calendars;
    calendars->children = apr_array_make(p, 1, sizeof(tb_store_t *));
    APR_ARRAY_PUSH(calendars->children, tb_store_t *) = intervals;
    APR_ARRAY_PUSH(stores, tb_store_t *) = calendars;
    APR_ARRAY_PUSH(stores, tb_store_t *) = intervals;
    conf->stores = stores;
    conf->phantom_field = "$PhantomId";
    return conf;
}

static json_t *package(const char *text)
{
    const char *msg;

    return tb_json_parse(tb_test_pool, text, strlen(text), &msg);
}

static const char *flatten(const char *text, tb_sync_t **sync)
{
    json_t *pkg = package(text);
    const char *msg;

    *sync = apr_pcalloc(tb_test_pool, sizeof(**sync));
    (*sync)->conf = calendar_conf();
    msg = tb_nested_flatten(tb_test_pool, (*sync)->conf, pkg, *sync);
    return msg ? msg : tb_json_encode(tb_test_pool, pkg);
}

static void changesets_become_records(void)
{
    tb_sync_t *sync;

    CHECK_STR(flatten("{\"calendars\":{\"updated\":[{\"id\":\"general\","
                      "\"intervals\":{\"added\":[{\"$PhantomId\":\"i1\"}],"
                      "\"updated\":[{\"id\":77,\"name\":\"x\"}],"
                      "\"removed\":[{\"id\":78}]}}]}}", &sync),
              "{\"calendars\":{\"updated\":[{\"id\":\"general\"}]},"
              "\"intervals\":{\"added\":[{\"$PhantomId\":\"i1\","
              "\"calendar\":\"general\"}],\"updated\":[{\"id\":77,"
              "\"name\":\"x\"}],\"removed\":[{\"id\":78}]}}");
    CHECK(sync->nested_links != NULL
          && apr_hash_count(sync->nested_links) == 3);
}

static void new_parent_by_phantom_id(void)
{
    tb_sync_t *sync;

    /* a new calendar's intervals point at it by its phantom id, which
     * the sync translates like any reference; a plain array is new rows */
    CHECK_STR(flatten("{\"calendars\":{\"added\":[{\"$PhantomId\":\"c1\","
                      "\"id\":\"night\",\"intervals\":[{\"$PhantomId\":"
                      "\"i1\"}]}]}}", &sync),
              "{\"calendars\":{\"added\":[{\"$PhantomId\":\"c1\","
              "\"id\":\"night\"}]},\"intervals\":{\"added\":[{"
              "\"$PhantomId\":\"i1\",\"calendar\":\"c1\"}]}}");
}

static void refused(void)
{
    tb_sync_t *sync;

    CHECK(strstr(flatten("{\"calendars\":{\"updated\":[{\"id\":\"g\","
                         "\"intervals\":7}]}}", &sync), "must be an object"));
    CHECK(strstr(flatten("{\"calendars\":{\"updated\":[{\"intervals\":"
                         "{\"removed\":[{\"id\":7}]}}]}}", &sync),
                 "needs its id"));
    CHECK(strstr(flatten("{\"calendars\":{\"updated\":[{\"id\":\"g\","
                         "\"intervals\":{\"added\":[5]}}]}}", &sync),
                 "not a record"));
    CHECK(strstr(flatten("{\"intervals\":[],\"calendars\":{\"updated\":[{"
                         "\"id\":\"g\",\"intervals\":{\"added\":[{}]}}]}}",
                         &sync), "must be an object"));
}

static tb_changes_t *changes(tb_sync_t *sync, int i)
{
    return APR_ARRAY_IDX(sync->changes, i, tb_changes_t *);
}

/* The answer of the two syncs above, regrouped. */
static void answer_nested_under_parent(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_sync_t *sync;
    int i;

    flatten("{\"calendars\":{\"updated\":[{\"id\":\"general\","
            "\"intervals\":{\"added\":[{\"$PhantomId\":\"i1\"}],"
            "\"removed\":[{\"id\":78}]}}],\"added\":[{\"$PhantomId\":\"c1\","
            "\"id\":\"night\",\"intervals\":[{\"$PhantomId\":\"i2\"}]}]}}",
            &sync);
    sync->changes = apr_array_make(p, 2, sizeof(tb_changes_t *));
    for (i = 0; i < 2; i++) {
        tb_changes_t *ch = apr_pcalloc(p, sizeof(*ch));
        ch->store = APR_ARRAY_IDX(sync->conf->stores, i, const tb_store_t *);
        ch->rows_out = apr_array_make(p, 2, sizeof(char *));
        ch->removed_out = apr_array_make(p, 2, sizeof(char *));
        APR_ARRAY_PUSH(sync->changes, tb_changes_t *) = ch;
    }
    APR_ARRAY_PUSH(changes(sync, 0)->rows_out, const char *) =
        "{\"$PhantomId\":\"c1\",\"id\":\"night\"}";
    APR_ARRAY_PUSH(changes(sync, 1)->rows_out, const char *) =
        "{\"$PhantomId\":\"i1\",\"id\":80}";
    APR_ARRAY_PUSH(changes(sync, 1)->rows_out, const char *) =
        "{\"$PhantomId\":\"i2\",\"id\":81}";
    /* a row the client did not send inside a calendar stays where it is */
    APR_ARRAY_PUSH(changes(sync, 1)->rows_out, const char *) =
        "{\"id\":99}";
    APR_ARRAY_PUSH(changes(sync, 1)->removed_out, const char *) = "78";
    tb_nested_regroup(p, sync);

    REQUIRE(changes(sync, 0)->rows_out->nelts == 2);
    CHECK_STR(APR_ARRAY_IDX(changes(sync, 0)->rows_out, 0, const char *),
              "{\"$PhantomId\":\"c1\",\"id\":\"night\",\"intervals\":{"
              "\"rows\":[{\"$PhantomId\":\"i2\",\"id\":81}]}}");
    CHECK_STR(APR_ARRAY_IDX(changes(sync, 0)->rows_out, 1, const char *),
              "{\"id\":\"general\",\"intervals\":{\"rows\":[{"
              "\"$PhantomId\":\"i1\",\"id\":80}],\"removed\":[{\"id\":78}]}}");
    REQUIRE(changes(sync, 1)->rows_out->nelts == 1);
    CHECK_STR(APR_ARRAY_IDX(changes(sync, 1)->rows_out, 0, const char *),
              "{\"id\":99}");
    CHECK(changes(sync, 1)->removed_out->nelts == 0);
}

const tb_case_t tb_nested_cases[] = {
    {"nested changesets become records of their own store",
     changesets_become_records},
    {"a new parent's nested rows point at its phantom id",
     new_parent_by_phantom_id},
    {"nested changes that are no changesets are refused", refused},
    {"the answer puts nested rows under their parent's row",
     answer_nested_under_parent},
    {NULL, NULL}
};
