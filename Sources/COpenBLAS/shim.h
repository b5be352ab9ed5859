// OpenBLAS's CBLAS interface (Debian/Ubuntu: libopenblas-dev). cblas-openblas.h is the alternatives
// link to OpenBLAS's own cblas.h, whichever threading flavour is installed, so a reference BLAS
// installed beside it is never picked up by mistake.
#if __has_include(<cblas-openblas.h>)
#include <cblas-openblas.h>
#else
#include <cblas.h>
#endif
