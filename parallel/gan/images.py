"""Small image sets to big ones: a class-conditional DCGAN trained on an ImageFolder.

``read_image_folder`` reads one sub-folder per class, checks it (an empty folder, a single
class, unreadable files and mixed sizes get clear errors or a stated resize) and returns
images scaled to [-1, 1] at 32 or 64 px. ``fit_images`` trains the DCGAN pair with the
class one-hot as context for G and D (spectral norm, hinge loss and DiffAugment by
default, which is what makes a few dozen images per class usable); ``ImageSampler``
draws N images per class from the folder it wrote, or from the one that ``fit_gaussian``
wrote (the class-conditional Gaussian of :mod:`parallel.gan.gaussian`, for a few images
per class).
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from parallel.core.errors import DataError
from parallel.core.runfolder import load_checkpoint, read_json
from parallel.gan.defaults import IMAGE_DEFAULTS  # noqa: F401  (re-exported)
from parallel.gan.nets import NetSpec, build
from parallel.gan.train import CHECKPOINT, TrainConfig, Trainer, latent, pick_device

IMAGES = "images.json"
SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def read_image_folder(
    root: Path, size: int = 32
) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
    """Images (N, C, size, size) in [-1, 1], labels (N,), class names and notes.

    Raises:
        DataError: a missing or empty folder, fewer than two classes, unreadable images
            (listed), or a size other than 32 or 64.
    """
    from PIL import Image, UnidentifiedImageError

    if size not in (32, 64):
        raise DataError(f"--size {size}: the image GAN makes 32 or 64 px images")
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; give an ImageFolder (one sub-folder per class)")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files = {
        c: sorted(p for p in (root / c).iterdir() if p.suffix.lower() in SUFFIXES) for c in classes
    }
    empty = [c for c, f in files.items() if not f]
    files = {c: f for c, f in files.items() if f}
    if not files:
        raise DataError(
            f"{root}: no images found; give one sub-folder per class holding image files "
            f"({', '.join(sorted(SUFFIXES))})"
        )
    if len(files) < 2:
        raise DataError(
            f"{root}: only one class ({next(iter(files))!r}); a class-conditional generator "
            "needs at least two sub-folders of images"
        )
    images: list[tuple[Any, int]] = []
    sizes: Counter[tuple[int, int]] = Counter()
    bad: list[str] = []
    modes = set()
    for k, paths in enumerate(files.values()):
        for p in paths:
            try:
                with Image.open(p) as im:
                    im.load()
                    sizes[im.size] += 1
                    modes.add("L" if im.mode in ("L", "1", "I", "I;16", "F") else "RGB")
                    images.append((im.copy(), k))
            except Image.DecompressionBombError:
                bad.append(f"{p.relative_to(root)} (too many pixels: a decompression bomb?)")
            except (UnidentifiedImageError, OSError) as exc:
                bad.append(f"{p.relative_to(root)} ({type(exc).__name__})")
    if bad:
        raise DataError(
            f"{root}: {len(bad)} unreadable image(s): {', '.join(bad[:10])}"
            + (" ..." if len(bad) > 10 else "")
            + "; remove or replace them"
        )
    mode = "L" if modes == {"L"} else "RGB"
    notes = []
    if empty:
        notes.append(
            f"class folder(s) with no images were left out: {', '.join(empty)} "
            f"(images are {', '.join(sorted(SUFFIXES))})"
        )
    if len(sizes) > 1:
        listed = ", ".join(f"{w}x{h} ({n})" for (w, h), n in sizes.most_common(6))
        notes.append(f"images of mixed sizes ({listed}) were all resized to {size}x{size}")
    elif next(iter(sizes)) != (size, size):
        w, h = next(iter(sizes))
        notes.append(f"images of {w}x{h} were resized to {size}x{size}")
    arr = np.stack(
        [
            np.asarray(im.convert(mode).resize((size, size), Image.Resampling.BILINEAR), np.float32)
            for im, _ in images
        ]
    )
    # (N, 1, S, S) grey or (N, 3, S, S) colour
    arr = arr[:, None] if arr.ndim == 3 else arr.transpose(0, 3, 1, 2)
    x = torch.from_numpy(arr / 127.5 - 1.0)
    y = torch.tensor([k for _, k in images])
    return x, y, list(files), notes


def fit_images(
    root: Path,
    out: Path,
    cfg: TrainConfig,
    *,
    size: int = 32,
    device: str = "auto",
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Trainer, list[str], list[str]]:
    """Train the class-conditional image GAN on ``root``; returns the trainer, the classes
    and the notes.

    Raises:
        DataError: see :func:`read_image_folder`.
        ConfigMismatchError, DivergenceError: from the trainer.
    """
    x, y, classes, notes = read_image_folder(root, size)
    ctx = torch.nn.functional.one_hot(y, len(classes)).float()
    if len(x) < cfg.batch_size:
        cfg = cfg.model_copy(update={"batch_size": max(2, len(x) // cfg.pac * cfg.pac)})
    if resume and (out / IMAGES).is_file():  # the saved nets' shapes depend on these
        old = read_json(out / IMAGES)
        for key, now in (("size", size), ("classes", classes), ("channels", int(x.shape[1]))):
            if old.get(key) != now:
                raise DataError(
                    f"--resume into {out}: it was trained with {key} {old.get(key)!r}, now "
                    f"{now!r}; resume with the same --size and image folder, or train into a "
                    "new folder"
                )
    out.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(cfg, x, out, device, ctx)
    if resume:
        trainer.resume()
    meta = {
        "classes": classes,
        "channels": int(x.shape[1]),
        "size": size,
        "images": len(x),
        "per_class": {c: int((y == k).sum()) for k, c in enumerate(classes)},
        "source": str(root),
        "notes": notes,
        "config": cfg.model_dump(),
    }
    (out / IMAGES).write_text(json.dumps(meta, indent=1))
    trainer.fit(progress)
    return trainer, classes, notes


def fit_gaussian(
    root: Path, out: Path, *, size: int = 32, seed: int = 0, model: str = "gaussian"
) -> dict[str, Any]:
    """Fit the class-conditional Gaussian image generator (:mod:`parallel.gan.gaussian`),
    or with ``model="kernel"`` its kernel estimate around the real images, on the
    ImageFolder ``root`` and write it to ``out``; returns what ``images.json`` says.

    Raises:
        DataError: see :func:`read_image_folder`.
    """
    from parallel.gan.gaussian import fit_gaussian_images

    x, y, classes, notes = read_image_folder(root, size)
    meta: dict[str, Any] = {
        "classes": classes,
        "channels": int(x.shape[1]),
        "size": size,
        "images": len(x),
        "per_class": {c: int((y == k).sum()) for k, c in enumerate(classes)},
        "source": str(root),
        "notes": notes,
    }
    meta["fit"] = fit_gaussian_images(x, y, out, meta, seed, model=model)
    return meta


class ImageSampler:
    """Draws images per class from a folder written by :func:`fit_images`."""

    def __init__(self, folder: Path, device: str = "cpu") -> None:
        from parallel.gan.gaussian import MODELS, WEIGHTS, GaussianDraw

        # `--model gaussian` or `--model kernel`: the fitted arrays, no networks
        gaussian = (folder / IMAGES).is_file() and read_json(folder / IMAGES).get("model") in (
            MODELS
        )
        if not (folder / IMAGES).is_file() or not (gaussian or (folder / CHECKPOINT).is_file()):
            raise DataError(
                f"{folder}: not a trained image generator; train one with "
                "`parallel train IMAGES_DIR --out DIR`"
            )
        self.meta = read_json(folder / IMAGES)
        self.classes = list(self.meta["classes"])
        self.device = pick_device(device)
        self.gaussian: GaussianDraw | None = None
        #: the file that holds what was learned (its hash goes into a dataset's manifest)
        self.weights = folder / (WEIGHTS if gaussian else CHECKPOINT)
        if gaussian:  # `--model gaussian` or `kernel`: no networks to load
            c, s = self.meta["channels"], self.meta["size"]
            self.gaussian = GaussianDraw(folder, (c, s, s))
            return
        self.cfg = TrainConfig(**self.meta["config"])
        c, s = self.meta["channels"], self.meta["size"]
        spec = NetSpec(
            (c, s, s),
            self.cfg.z_dim + self.cfg.z_categories,
            len(self.classes),
            spectral_norm=self.cfg.spectral_norm,
            width=self.cfg.width,
        )
        g, _ = build(self.cfg.net, spec)
        st = load_checkpoint(folder / CHECKPOINT, "cpu")
        g.load_state_dict(st["G_ema"] if st.get("G_ema") is not None else st["G"])
        self.G = g.to(self.device).eval()

    @torch.no_grad()
    def sample(self, label: int, n: int, gen: torch.Generator) -> np.ndarray:
        """``n`` images of class ``label`` as uint8 (n, H, W) or (n, H, W, 3)."""
        if self.gaussian is not None:
            x = self.gaussian(label, n, gen).numpy()
        else:
            z = latent(n, self.cfg, gen).to(self.device)
            ctx = torch.zeros(n, len(self.classes), device=self.device)
            ctx[:, label] = 1.0
            x = self.G(z, ctx).float().cpu().numpy()  # (n, C, H, W) in [-1, 1]
        img = np.clip((x + 1) * 127.5, 0, 255).round().astype(np.uint8)
        return img[:, 0] if img.shape[1] == 1 else img.transpose(0, 2, 3, 1)

    def batch(self) -> Callable[[int, np.random.SeedSequence], pa.Table]:
        """A shard batch function: row i of a batch is class i mod n_classes, so batches of
        a multiple of n_classes rows hold every class equally (``label``, ``png``)."""
        from PIL import Image

        n_cls = len(self.classes)

        def make(k: int, ss: np.random.SeedSequence) -> pa.Table:
            gen = torch.Generator().manual_seed(int(ss.generate_state(1)[0]))
            labels = [i % n_cls for i in range(k)]
            pngs: list[bytes] = []
            for lab in range(n_cls):
                idx = [i for i, v in enumerate(labels) if v == lab]
                if not idx:
                    continue
                for im in self.sample(lab, len(idx), gen):
                    buf = io.BytesIO()
                    Image.fromarray(im).save(buf, format="PNG")
                    pngs.append(buf.getvalue())
            order = [i for lab in range(n_cls) for i, v in enumerate(labels) if v == lab]
            by_row = dict(zip(order, pngs))
            return pa.table(
                {
                    "label": pa.array([self.classes[v] for v in labels]).dictionary_encode(),
                    "class_index": pa.array(labels, pa.int32()),
                    "png": pa.array([by_row[i] for i in range(k)], pa.binary()),
                }
            )

        return make
