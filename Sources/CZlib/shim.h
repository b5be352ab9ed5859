#ifndef FLOWHOUND_CZLIB_SHIM_H
#define FLOWHOUND_CZLIB_SHIM_H
#include <zlib.h>

/// inflateInit2 is a macro; Swift cannot call it directly.
/// windowBits 15 + 32 accepts both gzip and zlib headers.
static inline int flowhound_inflate_init(z_stream *stream) {
    return inflateInit2(stream, 15 + 32);
}
#endif
