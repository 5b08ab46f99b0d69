/* tb_nested.h: stores whose rows travel inside their parent's rows.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file tb_nested.h
 * @brief Nested stores (TaskBoardNested) in a sync, independent of httpd.
 *
 * A Gantt or Scheduler Pro client sends a calendar's intervals inside the
 * calendar's record, as changesets of their own:
 * "calendars":{"updated":[{"id":"general","intervals":{"added":[…]}}]}.
 * They are taken out of the parent's record into the package's section
 * of the nested store before the package is checked, with the parent's id
 * (or phantom id) in the nested store's parent field, so that they are
 * checked, applied, journaled and translated like any record.  The answer
 * puts them back: each nested row under its parent's row,
 * "calendars":{"rows":[{"id":"general",
 *                       "intervals":{"rows":[{"$PhantomId":…,"id":…}]}}]}.
 */

#ifndef TB_NESTED_H
#define TB_NESTED_H

#include "tb_sync.h"

/**
 * Moves the nested changesets of the package's parent records into the
 * sections of their stores (the package is changed in place), and
 * remembers in sync which parent each nested record came from.
 * @return NULL, or a message for the client (400)
 */
const char *tb_nested_flatten(apr_pool_t *pool, const tb_sync_conf_t *conf,
                              json_t *package, tb_sync_t *sync);

/**
 * Puts the answer's rows and removals of the nested records under their
 * parents' rows (sync->changes is changed in place); rows the flattening
 * did not take out of a parent stay in their store's section.  Call once
 * the sync is applied, before its answer is written.
 */
void tb_nested_regroup(apr_pool_t *pool, tb_sync_t *sync);

#endif /* TB_NESTED_H */
