"""Benchmark of pipeline.model.bayes: all 528 fits (33 judges x 16 groups) of a
release-sized problem, and, with --nuts, agreement with and speed against the
paper's sampler (numpyro NUTS: 4 chains, 500 warm-up, 2000 draws each).
With --style N: the time to compute the style properties of N Arena-shaped pairs
(markdown responses of Arena's lengths) and to fit them for 50 judges.

    .venv/bin/python bench/bench_fit.py [--nuts] [--threads 2] [--style 100000]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time

# BLAS threads must be fixed before numpy loads; the fits are many small
# matrix products, so more threads than cores only adds contention.
_threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "2"
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _threads)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pipeline.model.posterior import PRIOR_SCALE
from pipeline.model.bayes import fit_many
from pipeline.model.heldout import heldout_accuracy  # noqa: E402

N_JUDGES = 33
N_PROPS = 29
# the release's groups: 11 scenarios (two of 820 pairs), 5 query-specific
GROUP_SIZES = [400] * 9 + [820, 820] + [459, 121, 1418, 388, 401]


def simulate_group(rng, n, n_judges=N_JUDGES, n_props=N_PROPS):
    """A group like the release's: features in {-1, 0, 1}, most properties
    rarely differing between the two responses, labels from known weights
    (half the weights near zero, half clearly non-zero, as in the paper)."""
    differ = rng.uniform(0.05, 0.9, n_props)  # per property: how often a pair differs on it
    X = (rng.random((n, n_props)) < differ) * rng.choice([-1.0, 1.0], (n, n_props))
    weak = rng.random((n_judges, n_props)) < 0.5
    W = np.where(weak, rng.normal(0.0, 0.03, weak.shape), rng.normal(0.2, 0.25, weak.shape))
    Y = (rng.random((n_judges, n)) < 1.0 / (1.0 + np.exp(-W @ X.T))).astype(float)
    return X, Y, W


def simulate_release(seed=0):
    rng = np.random.default_rng(seed)
    return [simulate_group(rng, n) for n in GROUP_SIZES]


def bench_ours(groups):
    problems = [(X, Y, None) for X, Y, _ in groups]
    fit_many(problems[:1])  # warm caches and imports, as a running app would be
    t0 = time.perf_counter()
    fits = fit_many(problems)
    total = time.perf_counter() - t0
    n_fits = sum(len(Y) for _, Y, _ in groups)
    print(f"all {n_fits} fits: {total:.2f} s")
    err = max(np.abs(f.mean - W).max() for f, (_, _, W) in zip(fits, groups))
    print(f"  (largest |posterior mean - true weight| anywhere: {err:.3f}; the prior shrinks, so not 0)")
    t0 = time.perf_counter()
    acc = [heldout_accuracy(X, Y, k=5) for X, Y, _ in groups]
    print(f"held-out metrics (5-fold: accuracy, log loss, AUC, calibration) for all {n_fits}: "
          f"{time.perf_counter() - t0:.2f} s, "
          f"mean accuracy {np.mean(np.concatenate(acc)):.3f}")
    return fits, total


def ensure_numpyro():
    if importlib.util.find_spec("numpyro") is None:
        print("installing the optional extra numpyro (+ jax) ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "numpyro"], check=True)


def make_nuts():
    """One compiled NUTS runner reused across fits (jit_model_args), so only
    the first call pays for compilation: the fairest timing for NUTS."""
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    def model(X, y):
        w = numpyro.sample("w", dist.Laplace(0.0, PRIOR_SCALE).expand([X.shape[1]]).to_event(1))
        numpyro.sample("y", dist.Bernoulli(logits=X @ w), obs=y)

    mcmc = MCMC(NUTS(model), num_warmup=500, num_samples=2000, num_chains=4,
                chain_method="sequential", progress_bar=False, jit_model_args=True)

    def run(X, y, seed):
        mcmc.run(jax.random.PRNGKey(seed), jnp.asarray(X), jnp.asarray(y))
        return np.asarray(mcmc.get_samples()["w"]).mean(0)

    return run


def bench_nuts(groups, fits, our_total, n_problems=3):
    ensure_numpyro()
    run = make_nuts()
    X, Y, _ = groups[0]  # a 400-pair scenario group
    t0 = time.perf_counter()
    run(X, Y[0], seed=99)
    print(f"NUTS compile + first fit: {time.perf_counter() - t0:.1f} s (not counted)")
    worst, seconds = 0.0, []
    for j in range(n_problems):
        t0 = time.perf_counter()
        ref = run(X, Y[j], seed=j)
        seconds.append(time.perf_counter() - t0)
        diff = np.abs(fits[0].mean[j] - ref).max()
        worst = max(worst, diff)
        print(f"  judge {j}: NUTS {seconds[-1]:.1f} s, largest |ours - NUTS| = {diff:.4f}")
    noise = np.abs(run(X, Y[0], seed=1000) - run(X, Y[0], seed=2000)).max()
    per_fit = float(np.median(seconds))
    print(f"largest |ours - NUTS| over {n_problems} fits x {N_PROPS} weights: {worst:.4f} "
          f"(NUTS vs NUTS, two seeds: {noise:.4f})")
    print(f"speed: NUTS {per_fit:.2f} s/fit x 528 = {per_fit * 528:.0f} s vs ours {our_total:.2f} s "
          f"-> {per_fit * 528 / our_total:.0f}x faster")


def arena_texts(rng, n):
    """n markdown responses shaped like Arena's: ~1.5 KB, headers, lists, bold, code, links, emoji."""
    words = "the model answer is a good way to do this for your case and it works well".split()
    out = []
    for _ in range(n):
        lines = [" ".join(rng.choice(words, rng.integers(8, 40))) + "." for _ in range(rng.integers(1, 5))]
        lines += [f"## Step {i}" for i in range(rng.choice([0, 0, 1, 2, 3]))]
        lines += [f"- **item {i}**: " + " ".join(rng.choice(words, 8)) for i in range(rng.choice([0, 0, 2, 4, 7]))]
        if rng.random() < 0.2:
            lines += ["```python", "print('hello')", "```"]
        if rng.random() < 0.15:  # each on its own draw: collinear columns would not be Arena-like
            lines.append("See https://example.org/docs for more.")
        if rng.random() < 0.1:
            lines.append("Great 🎉")
        if rng.random() < 0.2:
            lines.append("Would you like more details?")
        if rng.random() < 0.05:
            lines.append("I'm sorry, but as an AI language model I can't help with that.")
        out.append("\n".join(lines))
    return out


def bench_style(n_pairs, n_judges=50, seed=0):
    import polars as pl

    from pipeline.model.heldout import heldout_scores
    from pipeline.properties.style import STYLE_NAMES, style_features

    rng = np.random.default_rng(seed)
    pool = arena_texts(rng, 20_000)  # texts are drawn from a pool: generating them isn't what is timed
    frame = pl.DataFrame({"pair_id": np.arange(n_pairs), "response_1": rng.choice(pool, n_pairs),
                          "response_2": rng.choice(pool, n_pairs)})
    t0 = time.perf_counter()
    feats = style_features(frame)
    print(f"style properties of {n_pairs:,} Arena-shaped pairs ({len(STYLE_NAMES)} properties): "
          f"{time.perf_counter() - t0:.2f} s")
    X = feats["value"].to_numpy().reshape(n_pairs, len(STYLE_NAMES)).astype(float)
    W = rng.normal(0.0, 0.3, (n_judges, len(STYLE_NAMES)))
    Y = (rng.random((n_judges, n_pairs)) < 1.0 / (1.0 + np.exp(-W @ X.T))).astype(float)
    t0 = time.perf_counter()
    fit = fit_many([(X, Y, None)])[0]
    t1 = time.perf_counter()
    scores = heldout_scores(X, Y, k=5)
    t2 = time.perf_counter()
    print(f"style fit of {n_judges} judges x {n_pairs:,} pairs: {t1 - t0:.2f} s (+ {t2 - t1:.2f} s for 5-fold "
          f"held-out metrics; mean accuracy {np.nanmean(scores.accuracy):.3f}, "
          f"largest |mean - true| {np.abs(fit.mean - W).max():.3f})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nuts", action="store_true", help="also run the reference NUTS sampler (installs numpyro)")
    ap.add_argument("--threads", default="2", help="BLAS threads (default 2: this machine's cores)")
    ap.add_argument("--problems", type=int, default=3, help="400-pair fits to compare with NUTS")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--style", type=int, default=0, metavar="N", help="also time style properties + fit of N pairs")
    args = ap.parse_args()
    groups = simulate_release(args.seed)
    fits, total = bench_ours(groups)
    if args.nuts:
        bench_nuts(groups, fits, total, args.problems)
    if args.style:
        bench_style(args.style)


if __name__ == "__main__":
    main()
