#!/usr/bin/env python3
"""Writes a Flowhound CSV log of one-flow (or few-flow) sources for Benchmarks/run-sources.sh.

    sources.py FLOWS SOURCES SEED > log.csv

FLOWS flows over one hour, evenly spaced, each from one of SOURCES random public-looking IPv4
addresses: every flow its own source when SOURCES equals FLOWS, else a source drawn at random for
each flow (250,000 sources for 1,000,000 flows: four flows a source on average). Each goes to a
random host of 10.0.0.0/14 on one of ten ports Internet scanners favour; 80 % unanswered, 10 %
refused, 10 % answered:
what an Internet-facing network's edge sees from background scanning. Standard library only; the
same arguments give the same bytes. The addresses are text in a file: nothing is sent anywhere.
"""
import random
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: sources.py FLOWS SOURCES SEED")
    try:
        flows, sources, seed = (int(a) for a in sys.argv[1:])
    except ValueError:
        sys.exit("sources.py: FLOWS, SOURCES and SEED must be whole numbers")
    if not (1 <= flows <= 50_000_000 and 1 <= sources <= flows):
        sys.exit("sources.py: FLOWS from 1 to 50,000,000, SOURCES from 1 to FLOWS")
    rng = random.Random(seed)

    def address():
        return f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"

    pool = set()
    while len(pool) < sources:
        pool.add(address())
    pool = sorted(pool)
    rng.shuffle(pool)
    ports = [22, 23, 25, 80, 443, 445, 1433, 3389, 5060, 8080]
    out = sys.stdout
    out.write("ts,end,src,sport,dst,dport,proto,src_pkts,src_bytes,dst_pkts,dst_bytes,flags,outcome,state,label,detailed_label\n")
    step = 3600.0 / flows
    for i in range(flows):
        t = 1_700_000_000 + i * step
        source = pool[i] if sources == flows else pool[rng.randrange(sources)]
        destination = f"10.{rng.randint(0, 3)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        roll = rng.random()
        outcome, answered = ("unanswered", 0) if roll < 0.8 else ("rejected", 1) if roll < 0.9 else ("established", 1)
        out.write(f"{t:.6f},{t:.6f},{source},{rng.randint(1024, 65535)},{destination},{rng.choice(ports)},tcp,1,60,{answered},0,S,{outcome},S0,,\n")


if __name__ == "__main__":
    main()
