#ifndef FLOWHOUND_CNATS_SHIM_H
#define FLOWHOUND_CNATS_SHIM_H
// The NATS C client with JetStream and key-value support (Debian/Ubuntu: libnats-dev, 3.4 or later).
#include <nats/nats.h>
#endif
