#!/usr/bin/env python3
"""scikit-learn's RandomForestClassifier on the same arrays as `flowhound-bench forest`.

    compare_forest.py make DIR [ROWS] [FEATURES]     writes DIR/{train,test}_{X,y}.npy (make_classification)
    compare_forest.py fit DIR [TREES] [THREADS]       prints one JSON object: fit time, batch and single-row
                                                      prediction speed, test ROC-AUC

The data: scikit-learn's make_classification (random_state 0): ROWS rows (default 100,000) of
FEATURES float32 features (default 40; 10 informative, 10 redundant), 75 % for training.
"""
import json
import statistics
import sys
import time

import numpy as np


def make(directory, rows=100_000, features=40):
    from sklearn.datasets import make_classification
    x, y = make_classification(n_samples=rows, n_features=features, n_informative=10, n_redundant=10,
                               flip_y=0.03, random_state=0)
    x = x.astype(np.float32)
    cut = rows * 3 // 4
    for name, xs, ys in (("train", x[:cut], y[:cut]), ("test", x[cut:], y[cut:])):
        np.save(f"{directory}/{name}_X.npy", np.ascontiguousarray(xs))
        np.save(f"{directory}/{name}_y.npy", ys.astype(np.int64))


def fit(directory, trees=100, threads=2):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    x, y = np.load(f"{directory}/train_X.npy"), np.load(f"{directory}/train_y.npy")
    xt, yt = np.load(f"{directory}/test_X.npy"), np.load(f"{directory}/test_y.npy")
    model = RandomForestClassifier(n_estimators=trees, n_jobs=threads, random_state=1)
    start = time.perf_counter()
    model.fit(x, y)
    fit_seconds = time.perf_counter() - start
    rates = []
    # Nine passes, the median, as flowhound-bench forest does.
    for _ in range(9):
        start = time.perf_counter()
        p = model.predict_proba(xt)[:, 1]
        rates.append(len(xt) / (time.perf_counter() - start))
    # Single rows as a service would score them: one call a row, n_jobs=1 (threads only slow one row).
    model.set_params(n_jobs=1)
    latencies = []
    for i in range(200):
        row = xt[i:i + 1]
        start = time.perf_counter()
        model.predict_proba(row)
        latencies.append((time.perf_counter() - start) * 1e6)
    nodes = sum(t.tree_.node_count for t in model.estimators_)
    print(json.dumps({"fit_seconds": fit_seconds, "batch_rows_per_second": statistics.median(rates),
                      "single_row_microseconds": statistics.median(latencies),
                      "roc_auc": roc_auc_score(yt, p), "nodes": nodes}))


if __name__ == "__main__":
    command, directory, *rest = sys.argv[1:]
    if command == "make":
        make(directory, *map(int, rest))
    elif command == "fit":
        fit(directory, *map(int, rest))
    else:
        sys.exit(f"compare_forest.py: unknown command {command!r} (make or fit)")
