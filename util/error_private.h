/* util/error.c internals for tests. */
#ifndef KILN_UTIL_ERROR_PRIVATE_H
#define KILN_UTIL_ERROR_PRIVATE_H

#include <stddef.h>

/* Allocates every error and message (malloc); tests replace it to make
 * allocations fail on purpose. */
extern void *(*kiln_error_alloc)(size_t size);

#endif
