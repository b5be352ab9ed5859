// Writes a small libloc (IPFire location) database, a seed for the libloc fuzz target: a few IPv4
// and IPv6 networks with countries, autonomous systems and flags. The system database is 55 MB,
// far too big to fuzz.
//   cc -o /tmp/make-libloc-seed Fuzz/tools/make-libloc-seed.c -lloc && /tmp/make-libloc-seed OUT.db
#include <stdio.h>
#include <libloc/libloc.h>
#include <libloc/writer.h>
#include <libloc/network.h>
#include <libloc/as.h>
#include <libloc/country.h>

int main(int argc, char** argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s OUT.db\n", argv[0]); return 2; }
    struct loc_ctx* ctx = NULL;
    struct loc_writer* writer = NULL;
    if (loc_new(&ctx) || loc_writer_new(ctx, &writer, NULL, NULL)) return 1;
    loc_writer_set_vendor(writer, "Flowhound fuzz seed");
    loc_writer_set_description(writer, "a few networks");
    loc_writer_set_license(writer, "CC0");

    struct { const char* net; const char* cc; unsigned asn; unsigned flags; } nets[] = {
        {"1.1.1.0/24", "AU", 13335, LOC_NETWORK_FLAG_ANYCAST},
        {"2.125.160.0/19", "GB", 0, 0},
        {"81.2.69.0/24", "GB", 20712, 0},
        {"89.160.0.0/15", "SE", 29518, LOC_NETWORK_FLAG_SATELLITE_PROVIDER},
        {"216.160.83.0/24", "US", 209, LOC_NETWORK_FLAG_ANONYMOUS_PROXY},
        {"2001:218::/32", "JP", 2914, 0},
        {"2a02:cf40::/29", "NO", 0, LOC_NETWORK_FLAG_DROP},
    };
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        struct loc_network* network = NULL;
        if (loc_writer_add_network(writer, &network, nets[i].net)) return 1;
        loc_network_set_country_code(network, nets[i].cc);
        if (nets[i].asn) loc_network_set_asn(network, nets[i].asn);
        if (nets[i].flags) loc_network_set_flag(network, nets[i].flags);
        loc_network_unref(network);
    }
    struct { unsigned asn; const char* name; } ases[] = {{13335, "CLOUDFLARENET"}, {20712, "Andrews & Arnold"}, {29518, "Bredband2"}, {209, "CENTURYLINK"}, {2914, "NTT"}};
    for (size_t i = 0; i < sizeof ases / sizeof ases[0]; i++) {
        struct loc_as* as = NULL;
        if (loc_writer_add_as(writer, &as, ases[i].asn)) return 1;
        loc_as_set_name(as, ases[i].name);
        loc_as_unref(as);
    }
    const char* countries[][2] = {{"AU", "OC"}, {"GB", "EU"}, {"SE", "EU"}, {"US", "NA"}, {"JP", "AS"}, {"NO", "EU"}};
    for (size_t i = 0; i < sizeof countries / sizeof countries[0]; i++) {
        struct loc_country* country = NULL;
        if (loc_writer_add_country(writer, &country, countries[i][0])) return 1;
        loc_country_set_continent_code(country, countries[i][1]);
        loc_country_unref(country);
    }
    FILE* f = fopen(argv[1], "w");
    if (!f || loc_writer_write(writer, f, LOC_DATABASE_VERSION_UNSET)) { perror("write"); return 1; }
    fclose(f);
    loc_writer_unref(writer);
    loc_unref(ctx);
    return 0;
}
