/* mod_taskboard_check.c: the checks that need the whole configuration.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * They run in check_config, which also runs for "apachectl -t": every
 * references= names a store that applies where the field's store is
 * declared, with the right id type, every "SetHandler taskboard-*"
 * location has stores, the journal has the revision it needs and is there
 * wherever something needs it, and an authorization query that asks for
 * the board has a TaskBoardScope to give it one.  They look
 * at the configuration tree, because which <Location> applies to which is
 * only decided per request otherwise.
 */

#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <ap_mpm.h>

#include "mod_taskboard_private.h"
#include "tb_sql.h"

/************ the stores declared anywhere, for check_config **************/

/* Every <TaskBoardStore> read, with its node in the configuration tree,
 * so that check_config can tell which locations a store applies to.
 * Lives in pconf and is forgotten when pconf is cleared (restarts). */
typedef struct declared_store_t {
    tb_store_t *store;
    const ap_directive_t *node;
} declared_store_t;

static apr_array_header_t *declared_stores = NULL;

static apr_status_t forget_declared_stores(void *unused)
{
    (void)unused;
    declared_stores = NULL;
    return APR_SUCCESS;
}

void tb_remember_store(cmd_parms *cmd, tb_store_t *store,
                       const ap_directive_t *node)
{
    declared_store_t *d;

    if (!declared_stores) {
        declared_stores = apr_array_make(cmd->pool, 8, sizeof(*d));
        apr_pool_cleanup_register(cmd->pool, NULL, forget_declared_stores,
                                  apr_pool_cleanup_null);
    }
    d = apr_array_push(declared_stores);
    d->store = store;
    d->node = node;
}

/************ cross-checks once the whole configuration is read ***********/

/* Where a directive applies: its virtual host and its location, if any. */
typedef struct scope_t {
    const ap_directive_t *vhost;    /* <VirtualHost>, NULL = main server */
    const ap_directive_t *section;  /* nearest enclosing section, or NULL */
    const char *path;               /* <Location> path, NULL if regex */
    int is_location;                /* section is <Location*> */
} scope_t;

static const char *section_arg(apr_pool_t *pool, const ap_directive_t *node)
{
    const char *args = node->args, *endp = ap_strrchr_c(args, '>');

    args = apr_pstrndup(pool, args, endp ? (apr_size_t)(endp - args)
                                         : strlen(args));
    return ap_getword_conf(pool, &args);
}

static void scope_of(apr_pool_t *pool, const ap_directive_t *node,
                     scope_t *scope)
{
    const ap_directive_t *p;

    memset(scope, 0, sizeof(*scope));
    for (p = node->parent; p; p = p->parent) {
        if (strcasecmp(p->directive, "<VirtualHost") == 0) {
            scope->vhost = p;
            break;
        }
        if (!scope->section && p->directive[0] == '<'
            && strcasecmp(p->directive, "<IfModule") != 0
            && strcasecmp(p->directive, "<IfDefine") != 0
            && strcasecmp(p->directive, "<IfVersion") != 0) {
            scope->section = p;
        }
    }
    if (scope->section) {
        const char *arg = section_arg(pool, scope->section);
        if (strcasecmp(scope->section->directive, "<Location") == 0
            && strcmp(arg, "~") != 0) {
            scope->is_location = 1;
            scope->path = arg;
        }
        else if (strcasecmp(scope->section->directive, "<LocationMatch") == 0
                 || strcasecmp(scope->section->directive, "<Location") == 0) {
            scope->is_location = 1;
        }
    }
}

/* 1 when location path outer applies to path inner, the way httpd's
 * location walk matches: /api covers /api, /api/ and /api/load. */
static int path_covers(const char *outer, const char *inner)
{
    apr_size_t len = strlen(outer);

    return strncmp(outer, inner, len) == 0
           && (inner[len] == '\0' || inner[len] == '/'
               || (len > 0 && outer[len - 1] == '/'));
}

/* 1 when a store declared in scope `outer` applies to scope `inner`;
 * -1 when that cannot be known before a request (regular expressions,
 * <Directory>, <If>): those are given the benefit of the doubt. */
static int scope_covers(const scope_t *outer, const scope_t *inner)
{
    if (outer->vhost && outer->vhost != inner->vhost) {
        return 0;
    }
    if (!outer->section) {
        return 1;
    }
    if (outer->section == inner->section) {
        return 1;
    }
    if (!inner->section) {
        return 0;
    }
    if (outer->is_location && inner->is_location) {
        if (outer->path && inner->path) {
            return path_covers(outer->path, inner->path);
        }
        return -1;
    }
    return -1;
}

/* The declared store `id` that applies to scope, or NULL. */
static const declared_store_t *visible_store(apr_pool_t *pool,
                                             const scope_t *scope,
                                             const char *id, int *unsure)
{
    int i, covers;
    scope_t other;

    *unsure = 0;
    for (i = 0; declared_stores && i < declared_stores->nelts; i++) {
        declared_store_t *d = &APR_ARRAY_IDX(declared_stores, i,
                                             declared_store_t);
        if (id && strcmp(d->store->id, id) != 0) {
            continue;
        }
        scope_of(pool, d->node, &other);
        covers = scope_covers(&other, scope);
        if (covers == 1) {
            return d;
        }
        if (covers == -1) {
            *unsure = 1;
        }
    }
    return NULL;
}

/* A TaskBoardLazyLoad follow store whose references= point at a
 * TB_LAZY_SPAN store is loaded for that store's window (its first such
 * target; the statements live as long as the configuration).  Only on
 * request: Scheduler Pro asks for the dependencies once, whole, and for
 * the assignments with every window. */
static void link_follower(apr_pool_t *pconf, tb_store_t *store,
                          const tb_store_t *target)
{
    if (store->lazy == TB_LAZY_FOLLOW && target->lazy == TB_LAZY_SPAN
        && target != store && !store->follows) {
        tb_sql_build_follow(pconf, store, target);
    }
}

/* 1 when a references= field of store names a span store declared
 * somewhere (where the two are in sections that cannot be related, the
 * link is made or not per location, as references= are checked). */
static int refers_to_span(const tb_store_t *store)
{
    int i, j;

    for (i = 0; i < store->fields->nelts; i++) {
        const tb_field_t *f = APR_ARRAY_IDX(store->fields, i,
                                            const tb_field_t *);
        for (j = 0; f->references && j < declared_stores->nelts; j++) {
            const tb_store_t *other = APR_ARRAY_IDX(declared_stores, j,
                                                    declared_store_t).store;
            if (other->lazy == TB_LAZY_SPAN
                && strcmp(other->id, f->references) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* A follow store without a reference to a span store would never follow
 * anything: refused. */
static int check_follows(server_rec *s)
{
    int i, errors = 0;

    for (i = 0; declared_stores && i < declared_stores->nelts; i++) {
        const tb_store_t *store = APR_ARRAY_IDX(declared_stores, i,
                                                declared_store_t).store;
        if (store->lazy == TB_LAZY_FOLLOW && !store->follows
            && !refers_to_span(store)) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, TBLOGNO(00032)
                         TB_CMD_LAZY " follow of store '%s' at %s:%d: none "
                         "of its references= fields names a store with "
                         TB_CMD_LAZY " span where it is declared",
                         store->id, store->lazy_file, store->lazy_line);
            errors++;
        }
    }
    return errors;
}

/* A TaskBoardNested store goes in its parent's rows: one level, and one
 * key per parent. */
static int link_nested(apr_pool_t *pconf, server_rec *s, tb_store_t *store,
                       tb_store_t *parent)
{
    int i;

    if (parent->nested_field) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, TBLOGNO(00030)
                     TB_CMD_NESTED " of store '%s' at %s:%d: its parent "
                     "'%s' is nested itself; one level only",
                     store->id, store->nested_file, store->nested_line,
                     parent->id);
        return 1;
    }
    if (!parent->children) {
        parent->children = apr_array_make(pconf, 2, sizeof(tb_store_t *));
    }
    for (i = 0; i < parent->children->nelts; i++) {
        tb_store_t *other = APR_ARRAY_IDX(parent->children, i, tb_store_t *);
        if (other == store) {
            return 0;       /* a second location that sees both */
        }
        if (strcmp(other->nested_key, store->nested_key) == 0) {
            break;
        }
    }
    if (i < parent->children->nelts
        || tb_store_field(parent, store->nested_key)
        || strcmp(store->nested_key, "id") == 0) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, TBLOGNO(00031)
                     TB_CMD_NESTED " of store '%s' at %s:%d: key '%s' is "
                     "taken in the rows of store '%s'", store->id,
                     store->nested_file, store->nested_line, store->nested_key,
                     parent->id);
        return 1;
    }
    store->nested_in = parent;
    APR_ARRAY_PUSH(parent->children, tb_store_t *) = store;
    return 0;
}

static int check_references(apr_pool_t *pconf, apr_pool_t *ptemp,
                            server_rec *s)
{
    int i, j, unsure, errors = 0;
    scope_t scope;

    for (i = 0; declared_stores && i < declared_stores->nelts; i++) {
        declared_store_t *d = &APR_ARRAY_IDX(declared_stores, i,
                                             declared_store_t);
        scope_of(ptemp, d->node, &scope);
        for (j = 0; j < d->store->fields->nelts; j++) {
            tb_field_t *f = APR_ARRAY_IDX(d->store->fields, j, tb_field_t *);
            const declared_store_t *target;
            tb_type_e id_type;

            if (!f->references) {
                continue;
            }
            target = visible_store(ptemp, &scope, f->references, &unsure);
            if (!target && !unsure) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, TBLOGNO(00001)
                             "TaskBoardField %s at %s:%d: references= names "
                             "store '%s', which is not declared where store "
                             "'%s' is", f->name, f->defn_file, f->defn_line,
                             f->references, d->store->id);
                errors++;
                continue;
            }
            if (!target) {
                continue;
            }
            id_type = target->store->id_kind == TB_ID_AUTO ? TB_TYPE_INT
                                                           : TB_TYPE_STRING;
            if (f->type != id_type) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, TBLOGNO(00002)
                             "TaskBoardField %s at %s:%d: references= store "
                             "'%s', whose ids are %s, so the field must be "
                             "%s, not %s", f->name, f->defn_file,
                             f->defn_line, f->references,
                             target->store->id_kind == TB_ID_AUTO
                                 ? "auto (int)" : "strings",
                             tb_type_name(id_type), tb_type_name(f->type));
                errors++;
                continue;
            }
            link_follower(pconf, d->store, target->store);
            if (d->store->nested_field
                && strcmp(d->store->nested_field, f->name) == 0) {
                errors += link_nested(pconf, s, d->store, target->store);
            }
        }
    }
    return errors;
}

/* Calls fn for every node of the tree named directive. */
static int each_directive(const ap_directive_t *node, const char *directive,
                          int (*fn)(const ap_directive_t *, void *),
                          void *baton)
{
    int errors = 0;

    for (; node; node = node->next) {
        if (node->first_child) {
            errors += each_directive(node->first_child, directive, fn,
                                     baton);
        }
        if (strcasecmp(node->directive, directive) == 0) {
            errors += fn(node, baton);
        }
    }
    return errors;
}

typedef struct {
    apr_pool_t *pool;
    const scope_t *scope;
    int found, unsure;
} visible_t;

static int note_visible(const ap_directive_t *node, void *baton)
{
    visible_t *v = baton;
    scope_t other;
    int covers;

    scope_of(v->pool, node, &other);
    covers = scope_covers(&other, v->scope);
    v->found |= covers == 1;
    v->unsure |= covers == -1;
    return 0;
}

/* 1 when a directive of that name applies to the scope of node, or may
 * (regular expressions and the like are given the benefit of the doubt). */
static int directive_applies(apr_pool_t *pool, const ap_directive_t *node,
                             const char *directive)
{
    visible_t v;
    scope_t scope;

    scope_of(pool, node, &scope);
    v.pool = pool;
    v.scope = &scope;
    v.found = v.unsure = 0;
    each_directive(ap_conftree, directive, note_visible, &v);
    return v.found || v.unsure;
}

typedef struct {
    apr_pool_t *pool;
    server_rec *s;
} check_ctx_t;

/* Which TaskBoardAuthzQuery applies to a handler's location: how many of
 * those that surely apply ask for the board, and how many do not. */
typedef struct {
    apr_pool_t *pool;
    const scope_t *scope;
    int with_board, without_board;
} authz_seen_t;

static int note_authz(const ap_directive_t *node, void *baton)
{
    authz_seen_t *seen = baton;
    scope_t other;
    char other_conv;

    scope_of(seen->pool, node, &other);
    if (scope_covers(&other, seen->scope) == 1) {
        if (node->args
            && tb_sql_count_placeholders(node->args, &other_conv) == 2) {
            seen->with_board++;
        }
        else {
            seen->without_board++;
        }
    }
    return 0;
}

/* A query that binds the board, where no TaskBoardScope gives one, could
 * only answer 500 to every request (TB00164): refused now. */
static int check_authz_board(apr_pool_t *pool, server_rec *s,
                             const ap_directive_t *node)
{
    authz_seen_t seen;
    scope_t scope;

    scope_of(pool, node, &scope);
    memset(&seen, 0, sizeof(seen));
    seen.pool = pool;
    seen.scope = &scope;
    each_directive(ap_conftree, TB_CMD_AUTHZ_QUERY, note_authz, &seen);
    if (!seen.with_board || seen.without_board
        || directive_applies(pool, node, TB_CMD_SCOPE)) {
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, TBLOGNO(00012)
                 "SetHandler %s at %s:%d: the " TB_CMD_AUTHZ_QUERY " that "
                 "applies here binds the user and the board (two %%s), but "
                 "no " TB_CMD_SCOPE " applies to this location to give a "
                 "board; use a query with the user alone, or declare the "
                 "location's " TB_CMD_SCOPE, node->args, node->filename,
                 node->line_num);
    return 1;
}

static int check_record_policy(const ap_directive_t *node, void *baton)
{
    check_ctx_t *ctx = baton;

    if (!node->args || strcasecmp(node->args, "record") != 0
        || directive_applies(ctx->pool, node, TB_CMD_JOURNAL)) {
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, ctx->s, TBLOGNO(00006)
                 TB_CMD_CONFLICTS " record at %s:%d: the record policy "
                 "checks a stale sync against the change journal, but no "
                 TB_CMD_JOURNAL " applies to this location; add one (see "
                 "sql/schema.sql for its table)", node->filename,
                 node->line_num);
    return 1;
}

static int check_journal(const ap_directive_t *node, void *baton)
{
    check_ctx_t *ctx = baton;

    if (directive_applies(ctx->pool, node, TB_CMD_REVISION)) {
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, ctx->s, TBLOGNO(00007)
                 TB_CMD_JOURNAL " at %s:%d: the journal records changes by "
                 "revision, but no " TB_CMD_REVISION " applies to this "
                 "location; add one", node->filename, node->line_num);
    return 1;
}

/* TaskBoardScope scopes what its own section declares, as it is read.
 * Anything else that would apply to its boards (a journal declared for
 * the whole server, stores in an inner location) would reach every
 * board's rows: refused.  And a board needs its own revision row. */
typedef struct {
    apr_pool_t *pool;
    server_rec *s;
    const ap_directive_t *scope_node;
    scope_t scope;
    int has_revision;
} scope_check_t;

static int same_section(const scope_t *a, const scope_t *b)
{
    return a->section == b->section && a->vhost == b->vhost;
}

static int check_scoped_node(const ap_directive_t *node, void *baton)
{
    scope_check_t *c = baton;
    scope_t other;

    scope_of(c->pool, node, &other);
    if (same_section(&other, &c->scope)) {
        c->has_revision |= strcasecmp(node->directive, TB_CMD_REVISION) == 0;
        return 0;
    }
    if (scope_covers(&other, &c->scope) != 1
        && scope_covers(&c->scope, &other) != 1) {
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, c->s, TBLOGNO(00010)
                 "%s at %s:%d applies to the boards of " TB_CMD_SCOPE
                 " at %s:%d, but is declared in another section, so its "
                 "tables would not be scoped; declare it in the section of "
                 TB_CMD_SCOPE ", after it",
                 node->directive[0] == '<'
                     ? apr_psprintf(c->pool, "%s %s>", node->directive,
                                    section_arg(c->pool, node))
                     : node->directive, node->filename,
                 node->line_num, c->scope_node->filename,
                 c->scope_node->line_num);
    return 1;
}

static int check_scope(const ap_directive_t *node, void *baton)
{
    check_ctx_t *ctx = baton;
    static const char *const scoped[] = {
        TB_CMD_STORE, TB_CMD_REVISION, TB_CMD_JOURNAL, TB_CMD_RETRY,
        TB_CMD_PROJECT
    };
    scope_check_t c;
    int errors = 0;
    apr_size_t i;

    c.pool = ctx->pool;
    c.s = ctx->s;
    c.scope_node = node;
    c.has_revision = 0;
    scope_of(ctx->pool, node, &c.scope);
    for (i = 0; i < sizeof(scoped) / sizeof(scoped[0]); i++) {
        errors += each_directive(ap_conftree, scoped[i], check_scoped_node,
                                 &c);
    }
    if (!c.has_revision) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, ctx->s, TBLOGNO(00011)
                     TB_CMD_SCOPE " at %s:%d: each board needs its revision "
                     "row, which is also how the module knows a board "
                     "exists; add '" TB_CMD_REVISION " table column' to its "
                     "section (a row per board, keyed by the board)",
                     node->filename, node->line_num);
        errors++;
    }
    return errors;
}

/* Finds every "SetHandler taskboard-*" and checks that stores apply. */
static int check_handlers(apr_pool_t *ptemp, server_rec *s,
                          const ap_directive_t *node)
{
    int errors = 0, unsure, threaded = 0;
    scope_t scope;

    if (ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) != APR_SUCCESS) {
        threaded = AP_MPMQ_NOT_SUPPORTED;
    }
    threaded = threaded != AP_MPMQ_NOT_SUPPORTED;

    for (; node; node = node->next) {
        if (node->first_child) {
            errors += check_handlers(ptemp, s, node->first_child);
        }
        if (strcasecmp(node->directive, "SetHandler") != 0
            || !node->args || strncasecmp(node->args, "taskboard-", 10) != 0) {
            continue;
        }
        if (strcasecmp(node->args, TB_HANDLER_STATUS) == 0) {
            continue;           /* needs no stores */
        }
        if (strcasecmp(node->args, TB_HANDLER_LOAD) != 0
            && strcasecmp(node->args, TB_HANDLER_SYNC) != 0
            && strcasecmp(node->args, TB_HANDLER_EVENTS) != 0) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, TBLOGNO(00003)
                         "SetHandler %s at %s:%d: unknown handler (use "
                         TB_HANDLER_LOAD ", " TB_HANDLER_SYNC ", "
                         TB_HANDLER_EVENTS " or " TB_HANDLER_STATUS ")",
                         node->args, node->filename, node->line_num);
            errors++;
            continue;
        }
        if (strcasecmp(node->args, TB_HANDLER_EVENTS) == 0 && !threaded) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, TBLOGNO(00009)
                         "SetHandler %s at %s:%d: event streams need a "
                         "threaded MPM (event or worker): under this one "
                         "each stream would hold a whole process, and the "
                         "journal poller would share its database "
                         "connection", node->args, node->filename,
                         node->line_num);
            errors++;
        }
        if (strcasecmp(node->args, TB_HANDLER_EVENTS) == 0
            && !directive_applies(ptemp, node, TB_CMD_JOURNAL)) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, TBLOGNO(00008)
                         "SetHandler %s at %s:%d: events come from the "
                         "change journal, but no " TB_CMD_JOURNAL " applies "
                         "to this location; add one", node->args,
                         node->filename, node->line_num);
            errors++;
        }
        errors += check_authz_board(ptemp, s, node);
        scope_of(ptemp, node, &scope);
        if (!visible_store(ptemp, &scope, NULL, &unsure) && !unsure) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, TBLOGNO(00004)
                         "SetHandler %s at %s:%d: no <TaskBoardStore> "
                         "applies to this location; declare the stores in "
                         "it or in an enclosing <Location>", node->args,
                         node->filename, node->line_num);
            errors++;
        }
    }
    return errors;
}

/* Streams beyond TaskBoardEventsMaxStreams are refused so that loads and
 * syncs always find a worker: a limit that takes every thread of a process
 * would not leave one. */
static int check_events_limits(server_rec *s)
{
    tb_server_conf_t *conf = ap_get_module_config(s->module_config,
                                                  &taskboard_module);
    int threads = 0;

    if (!conf->events_max_streams
        || ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS
        || threads <= 1 || conf->events_max_streams < threads) {
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, TBLOGNO(00260)
                 TB_CMD_EVENTS_MAX_STREAMS " %d at %s:%d: an httpd process "
                 "has %d worker threads (ThreadsPerChild), and streams "
                 "that take all of them leave none for loads and syncs; "
                 "use at most %d", conf->events_max_streams,
                 conf->events_max_file, conf->events_max_line, threads,
                 threads - 1);
    return 1;
}

int tb_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                    server_rec *s)
{
    check_ctx_t ctx;
    int errors;

    (void)plog;
    ctx.pool = ptemp;
    ctx.s = s;
    errors = check_references(pconf, ptemp, s)
             + check_follows(s)
             + check_handlers(ptemp, s, ap_conftree)
             + each_directive(ap_conftree, TB_CMD_CONFLICTS,
                              check_record_policy, &ctx)
             + each_directive(ap_conftree, TB_CMD_JOURNAL, check_journal,
                              &ctx)
             + each_directive(ap_conftree, TB_CMD_SCOPE, check_scope, &ctx)
             + check_events_limits(s);
    if (errors) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, TBLOGNO(00005)
                     "mod_taskboard: %d configuration error%s, see above",
                     errors, errors == 1 ? "" : "s");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}
