/* mod_taskboard: a Bryntum CrudManager backend for Apache httpd.
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

APR_DECLARE(apr_uint32_t) apr_atomic_read32(volatile apr_uint32_t *mem)
{
    return __atomic_load_n(mem, __ATOMIC_SEQ_CST);
}

APR_DECLARE(void) apr_atomic_set32(volatile apr_uint32_t *mem,
                                   apr_uint32_t val)
{
    __atomic_store_n(mem, val, __ATOMIC_SEQ_CST);
}

APR_DECLARE(apr_uint32_t) apr_atomic_add32(volatile apr_uint32_t *mem,
                                           apr_uint32_t val)
{
    return __atomic_fetch_add(mem, val, __ATOMIC_SEQ_CST);
}

APR_DECLARE(void) apr_atomic_sub32(volatile apr_uint32_t *mem,
                                   apr_uint32_t val)
{
    __atomic_fetch_sub(mem, val, __ATOMIC_SEQ_CST);
}

APR_DECLARE(apr_uint32_t) apr_atomic_inc32(volatile apr_uint32_t *mem)
{
    return __atomic_fetch_add(mem, 1, __ATOMIC_SEQ_CST);
}

APR_DECLARE(int) apr_atomic_dec32(volatile apr_uint32_t *mem)
{
    return __atomic_sub_fetch(mem, 1, __ATOMIC_SEQ_CST) != 0;
}

APR_DECLARE(apr_uint32_t) apr_atomic_cas32(volatile apr_uint32_t *mem,
                                           apr_uint32_t with,
                                           apr_uint32_t cmp)
{
    __atomic_compare_exchange_n(mem, &cmp, with, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    return cmp;
}

APR_DECLARE(apr_uint32_t) apr_atomic_xchg32(volatile apr_uint32_t *mem,
                                            apr_uint32_t val)
{
    return __atomic_exchange_n(mem, val, __ATOMIC_SEQ_CST);
}

APR_DECLARE(apr_uint64_t) apr_atomic_read64(volatile apr_uint64_t *mem)
{
    return __atomic_load_n(mem, __ATOMIC_SEQ_CST);
}

APR_DECLARE(void) apr_atomic_set64(volatile apr_uint64_t *mem,
                                   apr_uint64_t val)
{
    __atomic_store_n(mem, val, __ATOMIC_SEQ_CST);
}

APR_DECLARE(apr_uint64_t) apr_atomic_add64(volatile apr_uint64_t *mem,
                                           apr_uint64_t val)
{
    return __atomic_fetch_add(mem, val, __ATOMIC_SEQ_CST);
}

APR_DECLARE(void) apr_atomic_sub64(volatile apr_uint64_t *mem,
                                   apr_uint64_t val)
{
    __atomic_fetch_sub(mem, val, __ATOMIC_SEQ_CST);
}

APR_DECLARE(apr_uint64_t) apr_atomic_inc64(volatile apr_uint64_t *mem)
{
    return __atomic_fetch_add(mem, 1, __ATOMIC_SEQ_CST);
}

APR_DECLARE(int) apr_atomic_dec64(volatile apr_uint64_t *mem)
{
    return __atomic_sub_fetch(mem, 1, __ATOMIC_SEQ_CST) != 0;
}

APR_DECLARE(apr_uint64_t) apr_atomic_cas64(volatile apr_uint64_t *mem,
                                           apr_uint64_t with,
                                           apr_uint64_t cmp)
{
    __atomic_compare_exchange_n(mem, &cmp, with, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    return cmp;
}

APR_DECLARE(apr_uint64_t) apr_atomic_xchg64(volatile apr_uint64_t *mem,
                                            apr_uint64_t val)
{
    return __atomic_exchange_n(mem, val, __ATOMIC_SEQ_CST);
}

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
