#!/usr/bin/env python3
"""Golden values for Flowhound's Neural library, computed with plain numpy loops (no im2col, no BLAS
tricks) so that they are an independent reference.

    python3 Scripts/golden/neural_golden.py > Tests/NeuralTests/Fixtures/golden.json

Every input comes from numpy's PCG64 generator with a fixed seed and is written into the JSON as the
exact float32 value, so the Swift tests need no random generator of their own. Conventions are
Flowhound's: NCHW tensors, convolution weights F x C x k x k, dense weights in x out, symmetric zero
padding, pooling without padding (partial windows dropped), losses averaged over the batch.
"""
import json
import sys

import numpy as np

rng = np.random.default_rng(20261122)


def f32(a):
    return np.asarray(a, dtype=np.float32)


def rand(*shape, scale=1.0):
    return f32(rng.standard_normal(shape) * scale)


def flat(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


def tensor(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "values": flat(a)}


def conv_forward(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    f, _, k, _ = w.shape
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), dtype=np.float64)
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    ho = (h + 2 * pad - k) // stride + 1
    wo = (wd + 2 * pad - k) // stride + 1
    y = np.zeros((n, f, ho, wo))
    for i in range(n):
        for o in range(f):
            for oy in range(ho):
                for ox in range(wo):
                    patch = xp[i, :, oy * stride:oy * stride + k, ox * stride:ox * stride + k]
                    y[i, o, oy, ox] = np.sum(patch * w[o]) + b[o]
    return y


def conv_backward(x, w, dy, stride, pad):
    n, c, h, wd = x.shape
    f, _, k, _ = w.shape
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad))
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    _, _, ho, wo = dy.shape
    for i in range(n):
        for o in range(f):
            for oy in range(ho):
                for ox in range(wo):
                    g = dy[i, o, oy, ox]
                    sl = (i, slice(None), slice(oy * stride, oy * stride + k), slice(ox * stride, ox * stride + k))
                    dw[o] += g * xp[sl]
                    dxp[sl] += g * w[o]
    db = dy.sum(axis=(0, 2, 3))
    return dxp[:, :, pad:pad + h, pad:pad + wd], dw, db


def maxpool_forward(x, size, stride):
    n, c, h, wd = x.shape
    ho, wo = (h - size) // stride + 1, (wd - size) // stride + 1
    y = np.zeros((n, c, ho, wo))
    for i in range(n):
        for ch in range(c):
            for oy in range(ho):
                for ox in range(wo):
                    y[i, ch, oy, ox] = x[i, ch, oy * stride:oy * stride + size, ox * stride:ox * stride + size].max()
    return y


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


layers = []


def conv_case(name, n, c, h, w, f, k, stride, pad, backward=False):
    x, wt, b = rand(n, c, h, w), rand(f, c, k, k, scale=0.5), rand(f, scale=0.1)
    y = conv_forward(x.astype(np.float64), wt.astype(np.float64), b.astype(np.float64), stride, pad)
    case = {"name": name, "layer": {"type": "conv2d", "filters": f, "kernel": k, "stride": stride, "padding": pad},
            "input": tensor(x), "weight": tensor(wt), "bias": tensor(b), "output": tensor(y)}
    if backward:
        dy = rand(*y.shape)
        dx, dw, db = conv_backward(x.astype(np.float64), wt.astype(np.float64), dy.astype(np.float64), stride, pad)
        case.update({"output_gradient": tensor(dy), "input_gradient": tensor(dx),
                     "weight_gradient": tensor(dw), "bias_gradient": tensor(db)})
    layers.append(case)


conv_case("conv 3x3 stride 1 pad 1", 2, 3, 7, 6, 4, 3, 1, 1, backward=True)
conv_case("conv 3x3 stride 2 pad 0", 2, 2, 9, 8, 3, 3, 2, 0, backward=True)
conv_case("conv 2x2 stride 2 pad 1", 1, 3, 6, 7, 2, 2, 2, 1, backward=True)
conv_case("conv 5x5 stride 3 pad 2", 2, 2, 11, 10, 3, 5, 3, 2)
conv_case("conv 1x1", 2, 4, 3, 5, 2, 1, 1, 0)

for name, shape, size, stride in [("maxpool 2/2 odd width", (2, 3, 6, 5), 2, 2), ("maxpool 3/2 overlapping", (1, 2, 7, 7), 3, 2)]:
    x = rand(*shape)
    layers.append({"name": name, "layer": {"type": "maxpool2d", "size": size, "stride": stride},
                   "input": tensor(x), "output": tensor(maxpool_forward(x.astype(np.float64), size, stride))})

x, wt, b = rand(4, 10), rand(10, 3, scale=0.4), rand(3, scale=0.1)
layers.append({"name": "dense 10 to 3", "layer": {"type": "dense", "units": 3}, "input": tensor(x), "weight": tensor(wt),
               "bias": tensor(b), "output": tensor(x.astype(np.float64) @ wt.astype(np.float64) + b)})
x = rand(3, 2, 4)
layers.append({"name": "relu", "layer": {"type": "relu"}, "input": tensor(x), "output": tensor(np.maximum(x, 0))})

losses = []
z, labels = rand(5, 3, scale=2.0), rng.integers(0, 3, size=5)
p = softmax(z.astype(np.float64))
ce = -np.mean(np.log(p[np.arange(5), labels]))
g = p.copy()
g[np.arange(5), labels] -= 1
losses.append({"name": "softmax cross-entropy", "loss": "softmax_cross_entropy", "logits": tensor(z),
               "labels": [int(v) for v in labels], "value": float(ce), "gradient": tensor(g / 5)})
z, labels = rand(6, 1, scale=3.0), rng.integers(0, 2, size=6)
zz, yy = z.astype(np.float64).ravel(), labels.astype(np.float64)
s = 1 / (1 + np.exp(-zz))
bce = -np.mean(yy * np.log(s) + (1 - yy) * np.log(1 - s))
losses.append({"name": "binary cross-entropy", "loss": "binary_cross_entropy", "logits": tensor(z),
               "labels": [int(v) for v in labels], "value": float(bce), "gradient": tensor(((s - yy) / 6).reshape(6, 1))})

optimizers = []
w0 = rand(7)
grads = [rand(7) for _ in range(3)]
w, m, v = w0.astype(np.float64), np.zeros(7), np.zeros(7)
after = []
lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
for t, gr in enumerate(grads, start=1):
    m = b1 * m + (1 - b1) * gr
    v = b2 * v + (1 - b2) * gr.astype(np.float64) ** 2
    w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    after.append(flat(w))
optimizers.append({"name": "adam", "optimizer": "adam", "learning_rate": lr, "momentum": 0, "initial": flat(w0),
                   "gradients": [flat(g) for g in grads], "after": after})
w, vel, after = w0.astype(np.float64), np.zeros(7), []
lr, mu = 0.05, 0.9
for gr in grads:
    vel = mu * vel - lr * gr
    w = w + vel
    after.append(flat(w))
optimizers.append({"name": "sgd momentum", "optimizer": "sgd", "learning_rate": lr, "momentum": mu, "initial": flat(w0),
                   "gradients": [flat(g) for g in grads], "after": after})

# A whole network: conv(4, 3x3, pad 1) relu maxpool(2) flatten dense(5) relu dense(2).
x = rand(2, 3, 8, 6)
w1, b1_ = rand(4, 3, 3, 3, scale=0.4), rand(4, scale=0.1)
h = np.maximum(conv_forward(x.astype(np.float64), w1.astype(np.float64), b1_.astype(np.float64), 1, 1), 0)
h = maxpool_forward(h, 2, 2).reshape(2, -1)
w2, b2_ = rand(h.shape[1], 5, scale=0.2), rand(5, scale=0.1)
h = np.maximum(h @ w2 + b2_, 0)
w3, b3_ = rand(5, 2, scale=0.5), rand(2, scale=0.1)
out = h @ w3 + b3_
network = {"name": "conv relu pool flatten dense relu dense",
           "architecture": {"input": [3, 8, 6], "layers": [
               {"type": "conv2d", "filters": 4, "kernel": 3, "stride": 1, "padding": 1}, {"type": "relu"},
               {"type": "maxpool2d", "size": 2, "stride": 2}, {"type": "flatten"}, {"type": "dense", "units": 5},
               {"type": "relu"}, {"type": "dense", "units": 2}]},
           "input": tensor(x),
           "parameters": {"0.conv2d.weight": tensor(w1), "0.conv2d.bias": tensor(b1_), "4.dense.weight": tensor(w2),
                          "4.dense.bias": tensor(b2_), "6.dense.weight": tensor(w3), "6.dense.bias": tensor(b3_)},
           "output": tensor(out)}

json.dump({"generator": "Scripts/golden/neural_golden.py", "numpy": np.__version__, "seed": 20261122,
           "layers": layers, "losses": losses, "optimizers": optimizers, "networks": [network]}, sys.stdout)
sys.stdout.write("\n")
