/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * @file mod_taskboard_private.h
 * @brief What the httpd glue files share: the module, its log numbers,
 *        the per-directory configuration and the hooks between files.
 */

#ifndef MOD_TASKBOARD_PRIVATE_H
#define MOD_TASKBOARD_PRIVATE_H

#include <apr_dbd.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <mod_dbd.h>

#include "tb_model.h"

extern module AP_MODULE_DECLARE_DATA taskboard_module;
APLOG_USE_MODULE(taskboard);

/* The module's own log numbers: httpd's AHnnnnn registry is httpd's. */
#define TBLOGNO(n) "TB" #n ": "

/* Handler names, as given to SetHandler. */
#define TB_HANDLER_LOAD "taskboard-load"
#define TB_HANDLER_SYNC "taskboard-sync"

/* Directive names: one spelling for the table, the messages and tests. */
#define TB_CMD_STORE "<TaskBoardStore"
#define TB_CMD_STORE_NAME "<TaskBoardStore>"
#define TB_CMD_TABLE "TaskBoardTable"
#define TB_CMD_ID "TaskBoardId"
#define TB_CMD_ORDER "TaskBoardOrder"
#define TB_CMD_FIELD "TaskBoardField"
#define TB_CMD_REVISION "TaskBoardRevision"
#define TB_CMD_PARAM "TaskBoardParam"
#define TB_CMD_MAX_BODY "TaskBoardMaxBodySize"

#define TB_DEFAULT_PARAM "data"
#define TB_DEFAULT_MAX_BODY (4 * 1024 * 1024)

/** Per-directory (per-<Location>) configuration. */
typedef struct tb_dir_conf_t {
    apr_array_header_t *stores; /* tb_store_t *, inherited and merged */
    tb_revision_t *revision;    /* NULL: not set here */
    const char *param_name;     /* NULL: not set here */
    apr_off_t max_body;         /* -1: not set here */
    tb_store_t *current_store;  /* only while a <TaskBoardStore> is read */
} tb_dir_conf_t;

/* mod_taskboard_config.c */
extern const command_rec tb_cmds[];
void *tb_create_dir_conf(apr_pool_t *pool, char *dir);
void *tb_merge_dir_conf(apr_pool_t *pool, void *basev, void *addv);
int tb_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                    server_rec *s);
const char *tb_conf_param_name(const tb_dir_conf_t *conf);
apr_off_t tb_conf_max_body(const tb_dir_conf_t *conf);

/* mod_dbd's functions, looked up once (optional functions, so that the
 * LoadModule order does not matter). */
extern ap_dbd_t *(*tb_dbd_acquire_fn)(request_rec *);
void tb_retrieve_dbd_functions(void);

/* mod_taskboard_handler.c */
int tb_handler(request_rec *r);

#endif /* MOD_TASKBOARD_PRIVATE_H */
