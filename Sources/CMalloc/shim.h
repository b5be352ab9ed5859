#ifndef FLOWHOUND_CMALLOC_SHIM_H
#define FLOWHOUND_CMALLOC_SHIM_H

#if defined(__GLIBC__) || defined(__linux__)
#include <features.h>
#endif

#if defined(__GLIBC__)
#include <malloc.h>

/// glibc's malloc_trim(0): gives the free pages of every arena back to the system.
static inline int flowhound_release_free_memory(void) {
    return malloc_trim(0);
}
#else
/// Elsewhere there is nothing to call: the C library keeps to its own policy.
static inline int flowhound_release_free_memory(void) {
    return 0;
}
#endif
#endif
