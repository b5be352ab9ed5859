#!/usr/bin/env bash
# Trains an IP model on the first half (by time) of a labelled Stratosphere Zeek log with
# `train ip --logs`, and scores the remote addresses of the second half that the first never saw,
# against the default model: the measurement in the README's "Training on your own logs".
#
#   Scripts/eval-self-trained-ip.sh LOG HOME_ADDRESS
#   Scripts/eval-self-trained-ip.sh ../shared/data/flows/zeek/stratosphere-008-mixed.conn.log.labeled 147.32.81.167
#
# Truth for the second half comes from the log's `label` column: sources of flows labelled Malicious
# that connected to the home address are attackers; servers the home address reached in flows
# labelled Benign are benign. `eval ip` takes a flow log's originators as the remote ends, so the
# benign flows are written with their ends swapped (the server as originator, its service port kept).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -eq 2 ]] || { echo "usage: $0 LOG HOME_ADDRESS" >&2; exit 2; }
log=$1 home=$2
[[ -r $log ]] || { echo "error: cannot read $log" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

swift build -c release --product flowhound >&2
bin="$(swift build -c release --show-bin-path)/flowhound"

python3 - "$log" "$home" "$work" <<'PY'
import sys
src, home, work = sys.argv[1:]
head, rows = [], []
for line in open(src):
    (head if line.startswith('#') else rows).append(line)
fields = [l for l in head if l.startswith('#fields')][0].rstrip('\n').split('\t')[1:]
ix = {f: i for i, f in enumerate(fields)}
rows.sort(key=lambda l: float(l.split('\t')[0]))
cut = len(rows) // 2
header = [h for h in head if not h.startswith('#close')]
seen = set()
for l in rows[:cut]:
    c = l.split('\t'); seen.add(c[ix['id.orig_h']]); seen.add(c[ix['id.resp_h']])
with open(f'{work}/first-half.log', 'w') as f:
    f.writelines(header); f.writelines(rows[:cut])
with open(f'{work}/attackers.log', 'w') as mal, open(f'{work}/servers.log', 'w') as ben:
    mal.writelines(header); ben.writelines(header)
    for l in rows[cut:]:
        c = l.rstrip('\n').split('\t'); o, r, label = c[ix['id.orig_h']], c[ix['id.resp_h']], c[ix['label']]
        if label == 'Malicious' and o != home and o not in seen:
            mal.write(l)
        if label == 'Benign' and o == home and r not in seen:
            c[ix['id.orig_h']], c[ix['id.resp_h']] = r, o
            ben.write('\t'.join(c) + '\n')
PY
echo "$home" >"$work/home.txt"
"$bin" train ip --logs "$work/first-half.log" --home "$work/home.txt" -o "$work/ours.safetensors" >/dev/null
echo "== trained on the first half =="
"$bin" eval ip --model "$work/ours.safetensors" --malicious "$work/attackers.log" --benign "$work/servers.log" --split all 2>&1 |
    grep -v "not the ones the model was trained on"
echo "== the default model =="
"$bin" eval ip --malicious "$work/attackers.log" --benign "$work/servers.log" --split all 2>&1 |
    grep -v "not the ones the model was trained on"
