"""The GAN as a parallel machine, driven by the same loop runner as the traffic twin.

| verb    | here                                                                  |
|---------|-----------------------------------------------------------------------|
| observe | draw a batch of real rows (held out from training)                    |
| imitate | G(z): the same number of generated rows                               |
| judge   | D's scores, the shared distances (KS/TV, W1), the C2ST, quality/modes |
| adapt   | this round's block of training steps                                  |
| act     | nothing: a GAN has no control to apply                                |

Each round judges the generator as the previous rounds left it, then trains it; ``finish``
judges the final generator. The generator folder sits in the run folder, so a table run
can be sampled with ``parallel generate table --from RUN/generator``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from parallel.core import seeds
from parallel.core.seeds import Stage
from parallel.gan.scenario import GanScenario, train_config
from parallel.gan.synth import CONFIG, ENCODER, SOURCE, _write_json, table_hash
from parallel.gan.tabular import Categorical, Continuous, TableEncoder, read_table
from parallel.gan.toy import TOYS, Toy
from parallel.gan.train import Trainer, latent
from parallel.metrics.c2st import c2st
from parallel.metrics.distances import ks_complement, tv_complement, wasserstein1
from parallel.metrics.quality import quality

Progress = Callable[[str, int, int], None]

# spawn keys of the run's random streams
_DATA, _REAL, _FAKE, _JUDGE = Stage.GAN_DATA, Stage.GAN_REAL, Stage.GAN_FAKE, Stage.GAN_JUDGE


class GanMachine:
    """A :class:`~parallel.core.loop.Machine` over a dataset (actual) and a generator (artificial)."""

    name = "gan"

    def __init__(
        self,
        sc: GanScenario,
        folder: Path,
        device: str = "auto",
        progress: Progress | None = None,
        gen_dir: Path | None = None,
    ) -> None:
        self.sc = sc
        self.cfg = train_config(sc)
        self.progress = progress or (lambda what, k, n: None)
        self.toy: Toy | None = None
        self.encoder: TableEncoder | None = None
        self.gen_dir = gen_dir or folder / "generator"
        rng = self._rng(_DATA)
        data = sc.gan.data
        #: toy data are standardised for training (modes O(1) apart, as the nets' initial
        #: weights expect); generated samples are scaled back
        self.scale = 1.0
        if data.toy is not None:
            self.toy = TOYS[data.toy]()
            raw = self.toy.sample(data.rows, rng)
            self.scale = float(raw.std())
            train = torch.tensor(raw / self.scale, dtype=torch.float32)
            self.columns = ["x", "y"]
            self.numeric, self.categorical = ["x", "y"], []
            spans: tuple[tuple[int, int], ...] = ()
            self.source: dict[str, Any] = {"toy": data.toy, "rows": data.rows, "scale": self.scale}
        else:
            assert data.file is not None
            path = Path(sc.source_dir) / data.file
            df = read_table(path)
            order = rng.permutation(len(df))
            n_hold = max(int(round(data.holdout * len(df))), 1)
            self.holdout = df.iloc[order[:n_hold]].reset_index(drop=True)
            fit_rows = df.iloc[order[n_hold:]].reset_index(drop=True)
            self.encoder = TableEncoder.fit(fit_rows, str(path), data.max_categories)
            train = torch.from_numpy(self.encoder.encode(fit_rows, rng))
            spans = self.encoder.softmax_spans()
            self.columns = [str(c) for c in df.columns]
            self.numeric = [c.name for c in self.encoder.columns if isinstance(c, Continuous)]
            self.categorical = [c.name for c in self.encoder.columns if isinstance(c, Categorical)]
            self.source = {
                "source": str(path),
                "rows": len(fit_rows),
                "holdout_rows": n_hold,
                "columns": self.columns,
                "hash": table_hash(fit_rows),
            }
        cfg = self.cfg
        if len(train) < cfg.batch_size:
            cfg = cfg.model_copy(
                update={"batch_size": max(cfg.pac, len(train) // cfg.pac * cfg.pac)}
            )
            self.cfg = cfg
        self.trainer = Trainer(cfg, train, self.gen_dir, device, softmax_spans=spans)
        _write_json(self.gen_dir / CONFIG, cfg.model_dump())
        _write_json(self.gen_dir / SOURCE, self.source)
        if self.encoder is not None:
            _write_json(self.gen_dir / ENCODER, self.encoder.to_json())
        self.per_round = math.ceil(cfg.steps / sc.loop.rounds)
        self.last_real: pd.DataFrame | None = None
        self.last_fake: pd.DataFrame | None = None

    # -- helpers -----------------------------------------------------------------------
    def _rng(self, stage: Stage, *key: int) -> np.random.Generator:
        return seeds.rng(self.sc.seed, stage, *key)

    def _real(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        if self.toy is not None:
            return pd.DataFrame(self.toy.sample(n, rng), columns=["x", "y"])
        idx = rng.choice(len(self.holdout), n, replace=n > len(self.holdout))
        return self.holdout.iloc[idx].reset_index(drop=True)

    def _fake(self, n: int, key: int, keep: float | None = None) -> pd.DataFrame:
        gen = torch.Generator().manual_seed(
            int(seeds.stream(self.sc.seed, _FAKE, key).generate_state(1)[0])
        )
        keep = self.sc.gan.sampling.keep if keep is None else keep
        x = self.trainer.sample(n, gen, keep=keep).numpy()  # (n, width), EMA generator if any
        if self.encoder is None:
            return pd.DataFrame(x * self.scale, columns=["x", "y"])
        df = self.encoder.decode(x, self._rng(_FAKE, key, 1)).to_pandas()
        for c in df:
            if isinstance(df[c].dtype, pd.CategoricalDtype):
                df[c] = df[c].astype(object)
        return df

    @torch.no_grad()
    def _d_scores(self, real: pd.DataFrame, key: int) -> dict[str, float]:
        """The discriminator's own verdict: mean score on real and on generated rows."""
        tr = self.trainer
        n = len(real) - len(real) % self.cfg.pac
        if self.encoder is None:
            xr = torch.tensor(real[["x", "y"]].to_numpy(np.float32)[:n] / self.scale)
        else:
            xr = torch.from_numpy(self.encoder.encode(real.iloc[:n], self._rng(_JUDGE, key, 2)))
        gen = torch.Generator().manual_seed(
            int(seeds.stream(self.sc.seed, _JUDGE, key, 3).generate_state(1)[0])
        )
        z = latent(n, self.cfg, gen).to(tr.device)
        fake = tr.G(z)  # training mode: one-hot blocks as Gumbel-softmax, as D sees them
        d_real = tr.D(xr.to(tr.device)).float()
        d_fake = tr.D(fake).float()
        return {
            "d_real": float(d_real.mean()),
            "d_fake": float(d_fake.mean()),
            "d_accuracy": float(((d_real > 0).float().mean() + (d_fake < 0).float().mean()) / 2),
        }

    # -- the five verbs ----------------------------------------------------------------
    def observe(self, rnd: int) -> pd.DataFrame:
        return self._real(self.sc.judge.samples, self._rng(_REAL, rnd))

    def imitate(self, rnd: int) -> pd.DataFrame:
        return self._fake(self.sc.judge.samples, rnd)

    def judge(self, rnd: int, actual: pd.DataFrame, artificial: pd.DataFrame) -> dict[str, Any]:
        self.last_real, self.last_fake = actual, artificial
        rng = self._rng(_JUDGE, rnd)
        columns: dict[str, dict[str, float]] = {}
        for c in self.numeric:
            a, s = actual[c].dropna().to_numpy(float), artificial[c].dropna().to_numpy(float)
            columns[c] = {"ks_complement": ks_complement(a, s), "w1": wasserstein1(a, s)}
        for c in self.categorical:
            columns[c] = {"tv_complement": tv_complement(actual[c], artificial[c])}
        real_c2st = actual.dropna(subset=self.numeric)
        fake_c2st = artificial.dropna(subset=self.numeric)
        auc, p = c2st(real_c2st, fake_c2st, self.sc.judge.c2st, rng, self.numeric, self.categorical)
        out: dict[str, Any] = {
            "step": self.trainer.step,
            "c2st_auc": auc,
            "c2st_p": p,
            "discriminator": self._d_scores(actual, rnd),
            "columns": columns,
        }
        if self.toy is not None:
            out["modes"] = self.toy.score(artificial[["x", "y"]].to_numpy())
            if self.sc.gan.sampling.keep < 1:  # what plain sampling would have scored
                plain = self._fake(len(artificial), rnd, keep=1.0)
                out["modes_plain"] = self.toy.score(plain[["x", "y"]].to_numpy())
        else:
            q = quality(actual, artificial, set(self.categorical))
            out["quality"] = {k: q[k] for k in ("quality", "column_shapes", "column_pair_trends")}
        return out

    def adapt(self, rnd: int, actual: pd.DataFrame) -> dict[str, Any]:
        tr, cfg = self.trainer, self.cfg
        start = tr.step
        stop = min(start + self.per_round, cfg.steps)
        t0 = time.perf_counter()
        last = tr.fit(lambda k, n: self.progress("training steps", k, n), until=stop)
        return {
            "adapt": {
                "steps": [start, stop],
                "seconds": time.perf_counter() - t0,
                **{k: float(v) for k, v in last.items()},
            }
        }

    def act(self, rnd: int) -> dict[str, Any]:
        return {"act": None}

    def finish(self) -> dict[str, Any]:
        n = self.sc.loop.rounds
        real = self.observe(n)
        fake = self.imitate(n)
        verdict = self.judge(n, real, fake)
        return {"applied": False, "note": "a GAN has no control to apply", **verdict}

    def export_samples(self, folder: Path) -> None:
        """The last judged real and generated rows, for the report's sample plots."""
        folder.mkdir(parents=True, exist_ok=True)
        if self.last_real is not None and self.last_fake is not None:
            self.last_real.to_parquet(folder / "final.real.parquet", index=False)
            self.last_fake.to_parquet(folder / "final.generated.parquet", index=False)
        (folder / "columns.json").write_text(
            json.dumps({"numeric": self.numeric, "categorical": self.categorical})
        )
