/* tsan_apr_atomic.c: APR's atomics, instrumented for ThreadSanitizer.
 * Part of mod_taskboard, a Bryntum CrudManager backend for Apache httpd.
 * Licensed under the Apache License, Version 2.0.
 */

/*
 * apr_atomic_* for the ThreadSanitizer run (make -f Makefile.apxs
 * integration-tsan), preloaded into httpd with the runtime and the module.
 *
 * libapr is not instrumented, so ThreadSanitizer never sees its atomic
 * operations: a value published with apr_atomic_set32 and read after an
 * apr_atomic_read32 that saw the flag (tb_cache.c's gzip_state, tb_stats.c's
 * slot state) would look like a plain write and read with nothing ordering
 * them, a false data race.  These definitions come first in the symbol
 * lookup, are built with -fsanitize=thread, and do what libapr's do on
 * x86-64 (gcc's __atomic builtins, sequentially consistent: APR documents
 * full barriers), so the tool sees each as the atomic operation it is.
 * This replaces a suppression: races around these variables are still
 * reported, only the ordering the atomics really give is taken into
 * account.
 */

#include <apr_atomic.h>

/* The 32- and 64-bit families are the same operations on another width:
 * one definition of them, so that the two cannot drift apart.  It defines
 * apr_atomic_read, _set, _add, _sub, _inc, _dec, _cas and _xchg with 32
 * and 64 appended; apr_atomic.h's prototypes check each signature. */
#define TB_APR_ATOMICS(bits, type)                                          \
APR_DECLARE(type) apr_atomic_read##bits(volatile type *mem)                 \
{                                                                           \
    return __atomic_load_n(mem, __ATOMIC_SEQ_CST);                          \
}                                                                           \
                                                                            \
APR_DECLARE(void) apr_atomic_set##bits(volatile type *mem, type val)        \
{                                                                           \
    __atomic_store_n(mem, val, __ATOMIC_SEQ_CST);                           \
}                                                                           \
                                                                            \
APR_DECLARE(type) apr_atomic_add##bits(volatile type *mem, type val)        \
{                                                                           \
    return __atomic_fetch_add(mem, val, __ATOMIC_SEQ_CST);                  \
}                                                                           \
                                                                            \
APR_DECLARE(void) apr_atomic_sub##bits(volatile type *mem, type val)        \
{                                                                           \
    __atomic_fetch_sub(mem, val, __ATOMIC_SEQ_CST);                         \
}                                                                           \
                                                                            \
APR_DECLARE(type) apr_atomic_inc##bits(volatile type *mem)                  \
{                                                                           \
    return __atomic_fetch_add(mem, 1, __ATOMIC_SEQ_CST);                    \
}                                                                           \
                                                                            \
APR_DECLARE(int) apr_atomic_dec##bits(volatile type *mem)                   \
{                                                                           \
    return __atomic_sub_fetch(mem, 1, __ATOMIC_SEQ_CST) != 0;               \
}                                                                           \
                                                                            \
APR_DECLARE(type) apr_atomic_cas##bits(volatile type *mem, type with,       \
                                       type cmp)                            \
{                                                                           \
    __atomic_compare_exchange_n(mem, &cmp, with, 0, __ATOMIC_SEQ_CST,       \
                                __ATOMIC_SEQ_CST);                          \
    return cmp;                                                             \
}                                                                           \
                                                                            \
APR_DECLARE(type) apr_atomic_xchg##bits(volatile type *mem, type val)       \
{                                                                           \
    return __atomic_exchange_n(mem, val, __ATOMIC_SEQ_CST);                 \
}

TB_APR_ATOMICS(32, apr_uint32_t)
TB_APR_ATOMICS(64, apr_uint64_t)

APR_DECLARE(void *) apr_atomic_casptr(volatile void **mem, void *with,
                                      const void *cmp)
{
    void *expected = (void *)cmp;

    __atomic_compare_exchange_n((void **)mem, &expected, with, 0,
                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}

APR_DECLARE(void *) apr_atomic_xchgptr(volatile void **mem, void *with)
{
    return __atomic_exchange_n((void **)mem, with, __ATOMIC_SEQ_CST);
}
