/* test_sync.c: unit cases of decoding and answering a sync.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/* tb_sync_parse.c: a sync package decoded and checked as a whole, on a
 * board of three stores (board()); and the order of added records. */

#include <apr_strings.h>

#include "tb_test.h"
#include "tb_sql.h"
#include "tb_sync.h"
#include "tb_answer.h"
#include "tb_journal.h"

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

/* The board every case parses against, made anew for each: assignments
 * refer to tasks and resources, tasks to tasks; configured children
 * first, so that the order of the changes is the parser's. */
static tb_sync_conf_t *board(void)
{
    apr_pool_t *p = tb_test_pool;
    apr_array_header_t *stores = apr_array_make(p, 3, sizeof(tb_store_t *));
    tb_store_t *tasks, *resources, *assignments;
    tb_sync_conf_t *conf = apr_pcalloc(p, sizeof(*conf));
    tb_field_t *name, *weight;

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

    conf->stores = stores;
    conf->conflicts = TB_CONFLICT_REJECT;
    conf->max_records = 10;
    conf->phantom_field = "$PhantomId";
    conf->phantom_parent_field = "$PhantomParentId";
    return conf;
}

/* The board's tasks store, for the ordering of added records. */
static const tb_store_t *board_tasks(void)
{
    return APR_ARRAY_IDX(board()->stores, 1, tb_store_t *);
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

static void changes_parents_first(void)
{
    tb_sync_error_t err;
    tb_sync_t *s;

    REQUIRE(parse(board(), "{\"type\":\"sync\",\"requestId\":9}", &s, &err)
            == 0);
    CHECK(s->nrecords == 0 && s->changes->nelts == 3);
    CHECK_STR(APR_ARRAY_IDX(s->changes, 2, tb_changes_t *)->store->id,
              "assignments");
}

/* A phantom chain across the stores, children listed before their
 * parents; neither task sends its weight. */
static const char chain[] =
    "{\"revision\":3,\"assignments\":{\"added\":[{\"$PhantomId\":\"a1\","
    "\"eventId\":\"t2\",\"resourceId\":\"r1\"}]},\"tasks\":{\"added\":[{"
    "\"$PhantomId\":\"t2\",\"name\":\"child\",\"$PhantomParentId\":\"t1\"},"
    "{\"$PhantomId\":\"t1\",\"name\":\"parent\",\"junk\":[1]}]},"
    "\"resources\":{\"added\":[{\"$PhantomId\":\"r1\",\"name\":\"r\"}]}}";

static void phantom_chain(void)
{
    tb_sync_error_t err;
    tb_sync_t *s;
    tb_record_t *rec;

    REQUIRE(parse(board(), chain, &s, &err) == 0);
    CHECK(s->has_revision && s->client_revision == 3 && s->nrecords == 4);
    rec = APR_ARRAY_IDX(changes_of(s, "tasks")->added, 0, tb_record_t *);
    CHECK_STR(rec->phantom, "t1");          /* the parent goes first */
    rec = APR_ARRAY_IDX(changes_of(s, "tasks")->added, 1, tb_record_t *);
    CHECK_STR(rec->phantom_refs[2], "t1");
    rec = APR_ARRAY_IDX(changes_of(s, "assignments")->added, 0,
                        tb_record_t *);
    CHECK_STR(rec->phantom_refs[0], "t2");
    CHECK_STR(rec->phantom_refs[1], "r1");
    CHECK(tb_sync_phantom(s, "resources", "r1") != NULL);
}

static void added_gets_defaults(void)
{
    tb_sync_error_t err;
    tb_sync_t *s;
    tb_record_t *rec;

    REQUIRE(parse(board(), chain, &s, &err) == 0);
    rec = APR_ARRAY_IDX(changes_of(s, "tasks")->added, 0, tb_record_t *);
    CHECK_STR(rec->values[1], "5");         /* weight's default */
}

/* 400: shape, unknown phantoms, limits, unserved stores, trees that are
 * not, revisions below 0; message NULL: any message. */
static void refused_400(void)
{
    static const struct {
        const char *what, *text, *message;
    } rows[] = {
        {"not an object", "[]", NULL},
        {"added not an array", "{\"tasks\":{\"added\":{}}}", NULL},
        {"an added record without its phantom id",
         "{\"tasks\":{\"added\":[{\"name\":\"x\"}]}}", "$PhantomId"},
        {"a reference to a phantom the sync does not add",
         "{\"assignments\":{\"added\":[{\"$PhantomId\":\"a\",\"eventId\":"
         "\"nope\",\"resourceId\":1}]}}", "nope"},
        {"an id both updated and removed",
         "{\"tasks\":{\"updated\":[{\"id\":1}],\"removed\":[{\"id\":1}]}}",
         NULL},
        {"a phantom id twice",
         "{\"tasks\":{\"added\":[{\"$PhantomId\":\"x\",\"name\":\"a\"},"
         "{\"$PhantomId\":\"x\",\"name\":\"b\"}]}}", NULL},
        {"a store the location does not serve",
         "{\"project\":{\"updated\":[{\"id\":1}]}}", "project"},
        {"more records than max_records",
         "{\"tasks\":{\"removed\":[{\"id\":1},{\"id\":2},{\"id\":3},"
         "{\"id\":4},{\"id\":5},{\"id\":6},{\"id\":7},{\"id\":8},{\"id\":9},"
         "{\"id\":10},{\"id\":11}]}}", "10"},
        {"a tree cycle",
         "{\"tasks\":{\"added\":[{\"$PhantomId\":\"a\",\"name\":\"a\","
         "\"parentId\":\"b\"},{\"$PhantomId\":\"b\",\"name\":\"b\","
         "\"parentId\":\"a\"}]}}", NULL},
        /* found by the fuzzer */
        {"a lone record that is its own parent",
         "{\"tasks\":{\"added\":[{\"$PhantomId\":\"a\",\"name\":\"a\","
         "\"parentId\":\"a\"}]}}", NULL},
        /* before any arithmetic on it */
        {"the lowest negative revision",
         "{\"revision\":-9223372036854775808}", "revision"},
        {"a negative revision with changes",
         "{\"revision\":-1,\"tasks\":{\"removed\":[{\"id\":1}]}}", NULL},
    };
    tb_sync_conf_t *conf = board();
    tb_sync_error_t err;
    tb_sync_t *s;
    apr_size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        CHECK_ROW(rows[i].what, parse(conf, rows[i].text, &s, &err) == 400
                  && (!rows[i].message || strstr(err.message,
                                                 rows[i].message)));
    }
}

static void revision_zero(void)
{
    tb_sync_error_t err;
    tb_sync_t *s;

    CHECK(parse(board(), "{\"revision\":0}", &s, &err) == 0);
}

static void invalid_422_lists_all(void)
{
    tb_sync_error_t err;
    tb_sync_t *s;

    REQUIRE(parse(board(), "{\"tasks\":{\"added\":[{\"$PhantomId\":\"x\"}],"
                  "\"updated\":[{\"id\":4,\"weight\":\"abc\","
                  "\"name\":null}]}}", &s, &err) == 422);
    CHECK(s->invalid->nelts == 3);
    CHECK_STR(APR_ARRAY_IDX(s->invalid, 0, tb_invalid_t).key_json,
              "\"$PhantomId\":\"x\"");
}

/* Not the user's to change: 403 before any value is looked at, so the
 * answer names no field; an empty sync (a poll) is fine. */
static void read_only_403(void)
{
    tb_sync_conf_t *conf = board();
    tb_sync_error_t err;
    tb_sync_t *s;

    conf->read_only = 1;
    CHECK(parse(conf, "{\"tasks\":{\"added\":[{\"$PhantomId\":\"x\"}],"
                "\"updated\":[{\"id\":4,\"weight\":\"abc\"}]}}", &s, &err)
          == 403 && s->invalid->nelts == 0 && !strstr(err.message, "weight"));
    CHECK(parse(conf, "{\"type\":\"sync\",\"revision\":3}", &s, &err) == 0);
}

/* The board with a project (the table's only row): calendar, a required
 * startDate, a readonly version. */
static tb_sync_conf_t *board_with_project(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_sync_conf_t *conf = board();
    tb_store_t *project = tb_store_create(p, TB_PROJECT_ID);

    project->is_project = 1;
    project->table = "project";
    project->id_kind = TB_ID_STRING;
    project->id_field.column = "";
    project->project_key = "1";
    field(p, project, "calendar", TB_TYPE_STRING, NULL);
    field(p, project, "startDate", TB_TYPE_DATE, NULL)->required = 1;
    field(p, project, "version", TB_TYPE_INT, NULL)->readonly = 1;
    tb_sql_build_store(p, project);
    conf->project = project;
    return conf;
}

/* "project":{...} is one update of the project's row, last among the
 * changes; unmapped and readonly fields are left out. */
static void project_is_an_update(void)
{
    tb_sync_error_t err;
    tb_changes_t *ch;
    tb_record_t *rec;
    tb_sync_t *s;

    REQUIRE(parse(board_with_project(), "{\"project\":{\"calendar\":\"night\","
                  "\"version\":4,\"other\":1},\"tasks\":{\"updated\":[{\"id\":"
                  "1,\"name\":\"a\"}]}}", &s, &err) == 0);
    ch = APR_ARRAY_IDX(s->changes, s->changes->nelts - 1, tb_changes_t *);
    REQUIRE(ch->store->is_project && ch->updated->nelts == 1);
    CHECK(ch->added->nelts == 0 && ch->removed->nelts == 0);
    rec = APR_ARRAY_IDX(ch->updated, 0, tb_record_t *);
    CHECK_STR(rec->id, "1");
    CHECK(rec->sent[0] && !rec->sent[1] && !rec->sent[2]);
    CHECK_STR(rec->values[0], "night");
    CHECK(s->nrecords == 2);
}

/* Checked as a record's values (422 under store "project"); not an
 * object: 400; nothing the server stores: no record, so a read-only user
 * may send it, and one that sets a field gets 403. */
static void project_checks(void)
{
    tb_sync_conf_t *conf = board_with_project();
    tb_sync_error_t err;
    tb_sync_t *s;

    REQUIRE(parse(conf, "{\"project\":{\"startDate\":\"soon\","
                  "\"calendar\":[1]}}", &s, &err) == 422);
    REQUIRE(s->invalid->nelts == 2);
    CHECK_STR(APR_ARRAY_IDX(s->invalid, 0, tb_invalid_t).store, "project");
    CHECK(parse(conf, "{\"project\":{\"startDate\":null}}", &s, &err) == 422);
    CHECK(parse(conf, "{\"project\":[1]}", &s, &err) == 400);
    CHECK(parse(conf, "{\"project\":\"x\"}", &s, &err) == 400);
    conf->read_only = 1;
    CHECK(parse(conf, "{\"project\":{\"version\":3,\"x\":1}}", &s, &err) == 0
          && s->nrecords == 0);
    CHECK(parse(conf, "{\"project\":{\"calendar\":\"x\"}}", &s, &err)
          == 403);
    /* without a declared project, the object is not the server's */
    CHECK(parse(board(), "{\"project\":{\"calendar\":\"x\"}}", &s, &err)
          == 0 && s->nrecords == 0);
}

/* Parents first, otherwise in sent order: round after round, every
 * record whose parents are placed. */
static void order_parents_first(void)
{
    static const int back[] = {1, -1, -1, 0};   /* p0 -> p1, p3 -> p0 */
    const tb_store_t *tasks = board_tasks();

    CHECK_STR(phantoms_of(tb_sync_order_added(tb_test_pool, tasks,
                                              tree(tasks, back, 4), NULL)),
              "p1 p2 p0 p3");
}

static void order_refuses_cycles(void)
{
    static const int cycle[] = {1, 0, -1};
    static const int self[] = {0};
    const tb_store_t *tasks = board_tasks();

    CHECK(tb_sync_order_added(tb_test_pool, tasks, tree(tasks, cycle, 3),
                              NULL) == NULL);
    CHECK(tb_sync_order_added(tb_test_pool, tasks, tree(tasks, self, 1),
                              NULL) == NULL);
}

/* A chain sent children first (each record the parent of the one
 * before): linear work, where taking round after round over all records
 * costs n * n / 2 steps. */
static void order_chain_linear(void)
{
    apr_pool_t *p = tb_test_pool;
    const tb_store_t *tasks = board_tasks();
    apr_size_t small = 0, large = 0;
    int *chain_of, n;

    for (n = 1000; n <= 4000; n += 3000) {
        apr_array_header_t *sorted;
        apr_size_t steps = 0;
        int i;

        chain_of = apr_palloc(p, sizeof(int) * n);
        for (i = 0; i < n; i++) {
            chain_of[i] = i + 1 < n ? i + 1 : -1;
        }
        sorted = tb_sync_order_added(p, tasks, tree(tasks, chain_of, n),
                                     &steps);
        CHECK(sorted && sorted->nelts == n);
        CHECK_STR(sorted ? APR_ARRAY_IDX(sorted, 0, tb_record_t *)->phantom
                         : NULL, apr_psprintf(p, "p%d", n - 1));
        CHECK_STR(sorted ? APR_ARRAY_IDX(sorted, n - 1, tb_record_t *)->phantom
                         : NULL, "p0");
        *(n == 1000 ? &small : &large) = steps;
    }
    CHECK(large <= 10 * 4000);
    CHECK(large <= 5 * small);
}

/* The board with a dependencies store whose from and to answer to the
 * names of every Bryntum product (alias=). */
static tb_sync_conf_t *alias_board(void)
{
    apr_pool_t *p = tb_test_pool;
    tb_sync_conf_t *conf = board();
    tb_store_t *deps = tb_store_create(p, "dependencies");
    tb_field_t *from, *to;

    from = field(p, deps, "from", TB_TYPE_INT, "tasks");
    from->aliases = apr_array_make(p, 2, sizeof(char *));
    APR_ARRAY_PUSH(from->aliases, const char *) = "fromEvent";
    APR_ARRAY_PUSH(from->aliases, const char *) = "fromTask";
    to = field(p, deps, "to", TB_TYPE_INT, "tasks");
    to->aliases = apr_array_make(p, 2, sizeof(char *));
    APR_ARRAY_PUSH(to->aliases, const char *) = "toEvent";
    APR_ARRAY_PUSH(to->aliases, const char *) = "toTask";
    field(p, deps, "lag", TB_TYPE_INT, NULL);
    tb_sql_build_store(p, deps);
    APR_ARRAY_PUSH((apr_array_header_t *)conf->stores, tb_store_t *) = deps;
    return conf;
}

/* A Gantt's dependency names its ends three times each, the new task by
 * its phantom id; a Scheduler Pro's once, under an alias. */
static void aliases_read(void)
{
    tb_sync_error_t err;
    tb_sync_t *s;
    tb_record_t *gantt, *pro;

    REQUIRE(parse(alias_board(), "{\"tasks\":{\"added\":[{\"$PhantomId\":"
                  "\"_g:T\",\"name\":\"t\"}]},\"dependencies\":{\"added\":["
                  "{\"from\":\"_g:T\",\"to\":3,\"fromEvent\":\"_g:T\","
                  "\"toEvent\":3,\"fromTask\":\"_g:T\",\"toTask\":3,"
                  "\"$PhantomId\":\"_g:D\"}],\"updated\":[{\"id\":7,"
                  "\"toTask\":\"_g:T\"}]}}", &s, &err) == 0);
    gantt = APR_ARRAY_IDX(changes_of(s, "dependencies")->added, 0,
                          tb_record_t *);
    CHECK_STR(gantt->phantom_refs[0], "_g:T");
    CHECK_STR(gantt->values[1], "3");
    CHECK(gantt->sent[0] && gantt->sent[1] && !gantt->sent[2]);
    CHECK(gantt->aliases_sent[0] == 3 && gantt->aliases_sent[1] == 3);
    pro = APR_ARRAY_IDX(changes_of(s, "dependencies")->updated, 0,
                        tb_record_t *);
    CHECK(!pro->sent[0] && pro->sent[1]);
    CHECK_STR(pro->phantom_refs[1], "_g:T");
    CHECK(pro->aliases_sent[1] == 2);       /* toTask, the second alias */
}

/* Two names of one field with different values: 400 naming the record
 * and both names, in added and in updated records. */
static void aliases_conflict_400(void)
{
    static const struct {
        const char *what, *text, *names;
    } rows[] = {
        {"added", "{\"dependencies\":{\"added\":[{\"$PhantomId\":\"d\","
         "\"from\":1,\"fromEvent\":1,\"fromTask\":2}]}}",
         "\"$PhantomId\":\"d\"}: from and fromTask"},
        {"updated", "{\"dependencies\":{\"updated\":[{\"id\":4,"
         "\"toEvent\":1,\"toTask\":null}]}}",
         "\"id\":4}: toEvent and toTask"},
        {"a number and its text", "{\"dependencies\":{\"updated\":[{"
         "\"id\":4,\"to\":1,\"toEvent\":\"1\"}]}}", "to and toEvent"},
    };
    tb_sync_conf_t *conf = alias_board();
    tb_sync_error_t err;
    tb_sync_t *s;
    apr_size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        CHECK_ROW(rows[i].what, parse(conf, rows[i].text, &s, &err) == 400
                  && strstr(err.message, rows[i].names));
    }
}

/* An answer's row carries the field under its name and under each alias
 * the record sent, with the value the server holds. */
static void aliases_echoed(void)
{
    tb_sync_conf_t *conf = alias_board();
    const tb_store_t *deps = APR_ARRAY_IDX(conf->stores, 3,
                                           const tb_store_t *);
    const char *row[] = {"9", "12", "3", "0"};
    unsigned int sent[] = {1, 2, 0};

    CHECK_STR(tb_row_json_as(tb_test_pool, deps, row, NULL,
                             "\"$PhantomId\":\"d\"", sent),
              "{\"$PhantomId\":\"d\",\"id\":9,\"from\":12,"
              "\"fromEvent\":12,\"to\":3,\"toTask\":3,\"lag\":0}");
    CHECK(tb_store_field(deps, "fromTask")
          == APR_ARRAY_IDX(deps->fields, 0, tb_field_t *));
    CHECK(tb_field_alias(APR_ARRAY_IDX(deps->fields, 1, tb_field_t *),
                         "toTask") == 1);
    CHECK_STR(tb_row_json(tb_test_pool, deps, row, NULL, NULL),
              "{\"id\":9,\"from\":12,\"to\":3,\"lag\":0}");
}

/* A full answer is another answer to the same body: the body's hash (the
 * request table's key with the requestId) tells the modes apart. */
static void full_answer_hash(void)
{
    static const char text[] = "{\"requestId\":5,\"tasks\":{\"removed\":"
                               "[{\"id\":1}]}}";
    tb_sync_conf_t *conf = board();
    tb_sync_error_t err;
    tb_sync_t *short_sync, *full_sync, *again;

    REQUIRE(parse(conf, text, &short_sync, &err) == 0);
    conf->full_answer = 1;
    REQUIRE(parse(conf, text, &full_sync, &err) == 0);
    REQUIRE(parse(conf, text, &again, &err) == 0);
    CHECK(strcmp(short_sync->body_hash, full_sync->body_hash) != 0);
    CHECK_STR(full_sync->body_hash, again->body_hash);
}

const tb_case_t tb_sync_cases[] = {
    {"an empty package lists every store, parents first",
     changes_parents_first},
    {"a phantom chain sent children first is placed parents first",
     phantom_chain},
    {"an added record gets the defaults of the fields it does not send",
     added_gets_defaults},
    {"packages that cannot be applied are refused with 400", refused_400},
    {"revision 0 is accepted", revision_zero},
    {"422 lists every invalid value of the batch", invalid_422_lists_all},
    {"read-only: changes get 403 naming no field, a poll passes",
     read_only_403},
    {"project: one update of its row, last, mapped fields only",
     project_is_an_update},
    {"project: 422 and 400 as a record's, no-op and read-only",
     project_checks},
    {"added records: parents first, otherwise in sent order",
     order_parents_first},
    {"added records: a cycle or a self-parent cannot be ordered",
     order_refuses_cycles},
    {"added records: a chain sent children first is ordered in linear steps",
     order_chain_linear},
    {"aliases: a field is read under any of its names, phantom ids too",
     aliases_read},
    {"aliases: different values under two names of a field are a 400",
     aliases_conflict_400},
    {"aliases: the answer echoes the names the record used",
     aliases_echoed},
    {"full answers: the body's hash differs from the short mode's",
     full_answer_hash},
    {NULL, NULL}
};
