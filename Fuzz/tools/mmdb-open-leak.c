// Shows that libmaxminddb itself leaks when MMDB_open fails on Fuzz/crashes/mmdb/libmaxminddb-open-leak.mmdb:
//   cc -g -fsanitize=address -o /tmp/mmdb-open-leak Fuzz/tools/mmdb-open-leak.c -lmaxminddb
//   /tmp/mmdb-open-leak Fuzz/crashes/mmdb/libmaxminddb-open-leak.mmdb   # status 7, then LeakSanitizer: 4640 bytes
#include <maxminddb.h>
#include <stdio.h>
int main(int argc, char** argv) {
    MMDB_s mmdb;
    int status = MMDB_open(argv[1], MMDB_MODE_MMAP, &mmdb);
    fprintf(stderr, "status %d %s\n", status, MMDB_strerror(status));
    if (status == MMDB_SUCCESS) {
        fprintf(stderr, "type %s\n", mmdb.metadata.database_type);
        int gai, err;
        const char* ips[] = {"1.1.1.1","2.125.160.216","81.2.69.160","89.160.20.112","216.160.83.56","::1","2001:218::1"};
        for (int i = 0; i < 7; i++) { MMDB_lookup_result_s r = MMDB_lookup_string(&mmdb, ips[i], &gai, &err); fprintf(stderr, "%s found %d err %d\n", ips[i], r.found_entry, err); }
        MMDB_close(&mmdb);
    }
    return 0;
}
