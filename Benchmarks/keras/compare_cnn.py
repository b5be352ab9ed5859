#!/usr/bin/env python3
"""Train and evaluate Flowhound's default scan CNN in TensorFlow/Keras on a `flowhound dataset` directory.

    compare_cnn.py --data DIR --model MODEL.safetensors --epochs E --batch-size B --threads T --seed S --json OUT.json

The other half of Benchmarks/run-cnn.sh: the architecture is read from a Flowhound model file's
metadata (never written twice), and the loss, optimiser, batch size and epoch count are those of
`flowhound train scan`, on the same arrays, so throughput and accuracy can be set side
by side. Writes one JSON object to OUT.json (to standard output without --json) and a short summary
to standard error.

DIR holds train/X.npy and test/X.npy (float32, N x 3 x 64 x 32, NCHW), train/y.npy and test/y.npy
(int64, 0 benign, 1 scan) and meta.json (the behaviour kind of every row).
"""
import argparse
import json
import os
import statistics
import sys
import time

# The activity image's shape (ActivityImage: channels × port rows × host columns); the channel count
# is read from the dataset's meta.json, so the script follows the layout Flowhound draws.
HEIGHT, WIDTH = 64, 32
INFERENCE_BATCH = 256
TIMED_RUNS = 3


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text!r}")
    return value


def parse_arguments():
    parser = argparse.ArgumentParser(description="Flowhound's scan CNN in TensorFlow/Keras: throughput and test metrics.")
    parser.add_argument("--data", required=True, help="directory written by `flowhound dataset`")
    parser.add_argument("--model", required=True, help="a Flowhound scan model whose architecture to build")
    parser.add_argument("--epochs", type=positive, required=True)
    parser.add_argument("--batch-size", type=positive, required=True)
    parser.add_argument("--threads", type=positive, default=2, help="TensorFlow intra- and inter-op threads (default 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", metavar="OUT", help="write the result here (default: standard output)")
    return parser.parse_args()


def fail(message):
    print(f"compare_cnn.py: error: {message}", file=sys.stderr)
    sys.exit(1)


args = parse_arguments()

# Threads and devices before TensorFlow is imported: the thread pools are sized on first use.
threads = str(args.threads)
os.environ["OMP_NUM_THREADS"] = threads
os.environ["TF_NUM_INTRAOP_THREADS"] = threads
os.environ["TF_NUM_INTEROP_THREADS"] = threads
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's info lines out of the summary

import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(args.threads)
tf.config.threading.set_inter_op_parallelism_threads(args.threads)

import keras  # noqa: E402
import numpy as np  # noqa: E402

keras.utils.set_random_seed(args.seed)


# --- data ------------------------------------------------------------------------------------------
try:
    with open(os.path.join(args.data, "meta.json")) as file:
        CHANNELS = int(json.load(file)["shape"][0])
except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
    fail(f"cannot read the image shape from {args.data}/meta.json: {error!r}")


def load_split(name):
    folder = os.path.join(args.data, name)
    try:
        x = np.load(os.path.join(folder, "X.npy"))
        y = np.load(os.path.join(folder, "y.npy"))
    except OSError as error:
        fail(f"cannot read the {name} arrays in {folder}: {error}")
    if x.dtype != np.float32 or x.ndim != 4 or x.shape[1:] != (CHANNELS, HEIGHT, WIDTH):
        fail(f"{name}/X.npy is {x.dtype} {x.shape}, expected float32 N x {CHANNELS} x {HEIGHT} x {WIDTH}")
    if y.ndim != 1 or y.shape[0] != x.shape[0] or not np.isin(y, (0, 1)).all():
        fail(f"{name}/y.npy must hold one label (0 or 1) per image: shape {y.shape}, images {x.shape[0]}")
    # TensorFlow's CPU Conv2D wants NHWC; transposed (and made contiguous) before anything is timed.
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)), y.astype(np.int64)


x_train, y_train = load_split("train")
x_test, y_test = load_split("test")
try:
    with open(os.path.join(args.data, "meta.json")) as file:
        meta = json.load(file)
    test_kinds = [row["kind"] for row in meta["test"]["rows"]]
    test_labels = [row["label"] for row in meta["test"]["rows"]]
except (OSError, ValueError, KeyError, TypeError) as error:
    fail(f"cannot read the test rows' kinds from {args.data}/meta.json: {error!r}")
if len(test_kinds) != len(y_test) or any(a != b for a, b in zip(test_labels, y_test.tolist())):
    fail("meta.json's test rows do not match test/y.npy (count or labels differ)")


# --- model -----------------------------------------------------------------------------------------
def read_architecture(path):
    """The architecture in a Flowhound model file's safetensors metadata, and its weight count."""
    try:
        with open(path, "rb") as file:
            length = int.from_bytes(file.read(8), "little")
            header = json.loads(file.read(length))
    except (OSError, ValueError) as error:
        fail(f"cannot read the model header of {path}: {error}")
    metadata = header.get("__metadata__", {})
    if metadata.get("format") != "flowhound-model" or "architecture" not in metadata:
        fail(f"{path} is not a Flowhound model file")
    weights = sum(int(np.prod(entry["shape"])) for name, entry in header.items() if name != "__metadata__")
    return json.loads(metadata["architecture"]), weights


def build_model(architecture):
    """The same layers in Keras (NHWC). A ReLU right after a convolution or dense layer becomes that
    layer's activation, which lets oneDNN fuse the two: Keras's fastest form of the same network."""
    channels, height, width = architecture["input"]
    layers = [keras.Input(shape=(height, width, channels))]
    specs = architecture["layers"]
    i = 0
    while i < len(specs):
        spec = specs[i]
        fused = "relu" if i + 1 < len(specs) and specs[i + 1]["type"] == "relu" else None
        kind = spec["type"]
        if kind == "conv2d":
            k, stride, pad = spec["kernel"], spec.get("stride", 1), spec.get("padding", 0)
            if pad == (k - 1) // 2 and k % 2 == 1 and stride == 1:
                padding = "same"
            else:
                if pad:
                    layers.append(keras.layers.ZeroPadding2D(pad))
                padding = "valid"
            layers.append(keras.layers.Conv2D(spec["filters"], k, strides=stride, padding=padding, activation=fused))
        elif kind == "dense":
            layers.append(keras.layers.Dense(spec["units"], activation=fused))
        elif kind == "maxpool2d":
            layers.append(keras.layers.MaxPool2D(spec["size"], strides=spec.get("stride", spec["size"])))
        elif kind == "dropout":
            layers.append(keras.layers.Dropout(spec["rate"]))
        elif kind == "flatten":
            layers.append(keras.layers.Flatten())
        elif kind == "relu":
            layers.append(keras.layers.ReLU())
        else:
            fail(f"layer type {kind!r} has no Keras equivalent here")
        i += 2 if fused else 1
    return keras.Sequential(layers, name="flowhound_scan_cnn")


architecture, EXPECTED_PARAMETERS = read_architecture(args.model)
if tuple(architecture["input"]) != (CHANNELS, HEIGHT, WIDTH):
    fail(f"the model reads {architecture['input']} images, the data holds {(CHANNELS, HEIGHT, WIDTH)}")
model = build_model(architecture)
parameters = model.count_params()
print(f"compare_cnn.py: {parameters:,} parameters", file=sys.stderr)
if parameters != EXPECTED_PARAMETERS:
    fail(f"the Keras model has {parameters:,} parameters but the Flowhound model {EXPECTED_PARAMETERS:,}: not the same architecture")

model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
)


# --- training --------------------------------------------------------------------------------------
class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds, self.losses = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)
        self.losses.append(float((logs or {}).get("loss", float("nan"))))
        print(f"compare_cnn.py: epoch {epoch + 1}/{args.epochs}: loss {self.losses[-1]:.4f}, "
              f"{len(x_train) / self.seconds[-1]:,.0f} samples/s", file=sys.stderr)


timer = EpochTimer()
model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, shuffle=True, verbose=0,
          callbacks=[timer])
epoch_rates = [len(x_train) / s for s in timer.seconds]
steady = epoch_rates[1:] if len(epoch_rates) >= 2 else epoch_rates  # the first epoch traces the graph
training_rate = statistics.median(steady)


# --- inference -------------------------------------------------------------------------------------
@tf.function(input_signature=[tf.TensorSpec([None, HEIGHT, WIDTH, CHANNELS], tf.float32)])
def forward(x):
    return model(x, training=False)


# Timed over every image (train and test), as Flowhound's side is; test metrics from the test rows.
x_all = np.concatenate([x_train, x_test])
batches = [tf.constant(x_all[i:i + INFERENCE_BATCH]) for i in range(0, len(x_all), INFERENCE_BATCH)]


def infer():
    return np.concatenate([forward(batch).numpy() for batch in batches])


def timed(run):
    rates = []
    for _ in range(TIMED_RUNS):
        start = time.perf_counter()
        run()
        rates.append(len(x_all) / (time.perf_counter() - start))
    return statistics.median(rates)


logits = infer()[len(x_train):]  # warm-up (traces the function); the test rows
inference_rate = timed(infer)


def predict():
    return model.predict(x_all, batch_size=INFERENCE_BATCH, verbose=0)


predicted_logits = predict()[len(x_train):]  # warm-up
predict_rate = timed(predict)
if not np.array_equal(predicted_logits.argmax(axis=1), logits.argmax(axis=1)):
    print("compare_cnn.py: warning: model.predict and the tf.function disagree on some test rows", file=sys.stderr)


# --- test metrics ----------------------------------------------------------------------------------
predicted = logits.argmax(axis=1)
accuracy = float((predicted == y_test).mean())
scan_recall = {}
for kind in sorted({k for k, label in zip(test_kinds, y_test) if label == 1}):
    rows = [i for i, (k, label) in enumerate(zip(test_kinds, y_test)) if k == kind and label == 1]
    scan_recall[kind] = float((predicted[rows] == 1).mean())
min_recall = min(scan_recall.values()) if scan_recall else None

result = {
    "framework": "keras",
    "tensorflow": tf.__version__,
    "keras": keras.__version__,
    "threads": args.threads,
    "seed": args.seed,
    "epochs": args.epochs,
    "batch_size": args.batch_size,
    "jit_compile": bool(model.jit_compile),  # Keras's default: False on a CPU-only machine (XLA is slower here)
    "parameters": parameters,
    "train_samples": int(len(x_train)),
    "test_samples": int(len(x_test)),
    "training_samples_per_second": training_rate,
    "epoch_samples_per_second": epoch_rates,
    "epoch_losses": timer.losses,
    "inference_samples_per_second": inference_rate,
    "predict_samples_per_second": predict_rate,
    "test_accuracy": accuracy,
    "scan_recall_by_kind": scan_recall,
    "min_scan_recall": min_recall,
}
text = json.dumps(result, indent=2)
if args.json:
    with open(args.json, "w") as file:
        file.write(text + "\n")
else:
    print(text)

weakest = min(scan_recall, key=scan_recall.get) if scan_recall else "none"
print(f"compare_cnn.py: TensorFlow {tf.__version__}, {args.threads} threads, {parameters:,} parameters, "
      f"{len(x_train)} train / {len(x_test)} test images, {args.epochs} epochs of batch {args.batch_size}\n"
      f"  training   {training_rate:,.0f} samples/s (median epoch"
      f"{' after the first' if len(epoch_rates) >= 2 else ''})\n"
      f"  inference  {inference_rate:,.0f} samples/s (tf.function, batch {INFERENCE_BATCH}), "
      f"{predict_rate:,.0f} samples/s (model.predict)\n"
      f"  test       accuracy {accuracy:.4f}, lowest scan-kind recall "
      f"{'n/a' if min_recall is None else f'{min_recall:.4f}'} ({weakest})", file=sys.stderr)
