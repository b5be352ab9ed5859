#ifndef FLOWHOUND_CLIBLOC_SHIM_H
#define FLOWHOUND_CLIBLOC_SHIM_H
// libloc, the IPFire location database reader (Debian/Ubuntu: libloc-dev; the data is in
// libloc-database at /var/lib/location/database.db).
#include <stdio.h>
#include <libloc/libloc.h>
#include <libloc/database.h>
#include <libloc/network.h>
#include <libloc/as.h>
#include <libloc/country.h>
#endif
