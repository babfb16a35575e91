/* Whole writes on file descriptors. */
#ifndef KILN_IO_H
#define KILN_IO_H

#include <stddef.h>

/* Writes all n bytes of data to fd, retrying short writes and EINTR.
 * Returns 0, or -1 with errno set (a write of 0 bytes counts as EIO). */
int kiln_write_all(int fd, const void *data, size_t n);

#endif
