/* test_tree.c: unit cases of a tree store's nesting (tb_tree.c).
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/* tb_tree.c: rows read in sibling order, written nested depth first. */

#include <apr_strings.h>

#include "tb_test.h"
#include "tb_tree.h"

/* One row: its id and its parent's id (NULL: none). */
typedef struct {
    const char *id, *parent;
} row_t;

/* Reads rows into a tree as the loader does (each row's text is
 * {"id":ID without the brace) and returns what the tree writes. */
static const char *nest(const row_t *rows, int n)
{
    tb_tree_t *tree = tb_tree_create(tb_test_pool);
    tb_membuf_t mb;
    tb_jw_t jw;
    int i;

    for (i = 0; i < n; i++) {
        const char *text = apr_pstrcat(tb_test_pool, "{\"id\":", rows[i].id,
                                        NULL);
        if (tb_tree_sink(tree, text, strlen(text))
            || tb_tree_end_row(tree, rows[i].id, rows[i].parent)) {
            return "(out of memory)";
        }
    }
    CHECK(tb_tree_rows(tree) == (apr_size_t)n);
    tb_membuf_init(&mb, tb_test_pool);
    tb_jw_init(&jw, tb_membuf_sink, &mb);
    if (tb_tree_write(tree, &jw) || tb_jw_flush(&jw)) {
        return "(out of memory)";
    }
    return mb.buf ? mb.buf : "";
}

static void nested_in_reading_order(void)
{
    static const row_t rows[] = {
        {"1", NULL}, {"2", "1"}, {"3", "1"}, {"4", NULL}, {"5", "2"},
        {"6", "4"}
    };

    CHECK_STR(nest(rows, 6),
              "{\"id\":1,\"children\":[{\"id\":2,\"children\":[{\"id\":5}]},"
              "{\"id\":3}]},{\"id\":4,\"children\":[{\"id\":6}]}");
}

static void children_before_parents(void)
{
    /* siblings ordered by parentIndex come before their parent's row */
    static const row_t rows[] = {
        {"7", "9"}, {"8", "9"}, {"9", NULL}, {"10", "8"}
    };

    CHECK_STR(nest(rows, 4),
              "{\"id\":9,\"children\":[{\"id\":7},{\"id\":8,\"children\":"
              "[{\"id\":10}]}]}");
}

static void orphans_and_self_parents_are_roots(void)
{
    /* 2's parent is not among the rows, 3 is its own parent */
    static const row_t rows[] = {
        {"1", NULL}, {"2", "99"}, {"3", "3"}, {"4", "2"}
    };

    CHECK_STR(nest(rows, 4),
              "{\"id\":1},{\"id\":2,\"children\":[{\"id\":4}]},{\"id\":3}");
}

static void cycles_are_written_once(void)
{
    /* 1 and 2 are each other's parent, 4 hangs under 2: no root reaches
     * them; every row is still written, once */
    static const row_t rows[] = {
        {"1", "2"}, {"2", "1"}, {"3", NULL}, {"4", "2"}
    };

    CHECK_STR(nest(rows, 4),
              "{\"id\":3},{\"id\":1,\"children\":[{\"id\":2,\"children\":"
              "[{\"id\":4}]}]}");
}

static void string_ids(void)
{
    static const row_t rows[] = {
        {"\"b\"", NULL}, {"\"a\"", "\"b\""}, {"\"B\"", "\"b\""}
    };

    /* ids are compared as the database gives their text */
    CHECK_STR(nest(rows, 3),
              "{\"id\":\"b\",\"children\":[{\"id\":\"a\"},{\"id\":\"B\"}]}");
}

static void empty_tree(void)
{
    CHECK_STR(nest(NULL, 0), "");
}

static void deep_chain_needs_no_stack(void)
{
    /* 200,000 levels: a recursive writer would overflow the stack */
    enum { DEPTH = 200000 };
    row_t *rows = apr_palloc(tb_test_pool, DEPTH * sizeof(*rows));
    const char *out;
    apr_size_t len;
    int i, opens = 0, closes = 0;

    for (i = 0; i < DEPTH; i++) {
        rows[i].id = apr_itoa(tb_test_pool, i + 1);
        rows[i].parent = i ? apr_itoa(tb_test_pool, i) : NULL;
    }
    out = nest(rows, DEPTH);
    len = strlen(out);
    for (i = 0; out[i]; i++) {
        opens += out[i] == '[';
        closes += out[i] == ']';
    }
    CHECK(strncmp(out, "{\"id\":1,\"children\":[{\"id\":2,", 28) == 0);
    CHECK(opens == DEPTH - 1 && closes == DEPTH - 1);
    /* the deepest row is a leaf, then every level closes */
    CHECK(len > 15 && strncmp(out + len - 15 - 2 * (DEPTH - 2),
                              "{\"id\":200000}]}", 15) == 0);
}

const tb_case_t tb_tree_cases[] = {
    {"rows nest under their parents, siblings in reading order, leaves "
     "without children", nested_in_reading_order},
    {"children read before their parent", children_before_parents},
    {"a missing parent or the row itself makes a root",
     orphans_and_self_parents_are_roots},
    {"rows in a cycle of parents are written once, as roots",
     cycles_are_written_once},
    {"string ids are matched as the database spells them", string_ids},
    {"no rows write nothing", empty_tree},
    {"a chain 200,000 deep is written without recursion",
     deep_chain_needs_no_stack},
    {NULL, NULL}
};
