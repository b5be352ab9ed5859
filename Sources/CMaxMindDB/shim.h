#ifndef FLOWHOUND_CMAXMINDDB_SHIM_H
#define FLOWHOUND_CMAXMINDDB_SHIM_H
// libmaxminddb (Debian/Ubuntu: libmaxminddb-dev). MMDB_get_value is variadic, which Swift cannot
// call: Swift code uses MMDB_aget_value with a NULL-terminated array of path strings.
#include <maxminddb.h>
#endif
