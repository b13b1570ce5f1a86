"""Curves of runs with matplotlib: episode reward (raw and smoothed) with eval points, and self-play ratings."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from .core.run import TrainingRun


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` values (same length as the input)."""
    cumsum = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(0, idx - window)
    return (cumsum[idx] - cumsum[lo]) / (idx - lo)


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("ecs-rl plot needs matplotlib: pip install 'ecs-rl[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_runs(runs: list[TrainingRun], out: str | Path, window: int = 20) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, run in enumerate(runs):
        colour = colours[k % len(colours)]
        rows = run.read_train_episodes()
        label = f"{run.name}/{run.version}/{run.run_id}"
        if not rows:
            raise ValueError(f"{run.train_log_path} has no episodes to plot")
        steps = np.array([r["step"] for r in rows], dtype=float)
        rewards = np.array([r["total_reward"] for r in rows], dtype=float)
        ax.plot(steps, rewards, color=colour, alpha=0.2, linewidth=0.8)
        ax.plot(steps, smooth(rewards, window), color=colour, linewidth=2, label=f"{label} (smoothed {window})")
        by_step: dict[int, list[float]] = defaultdict(list)
        for r in run.read_eval_episodes():
            by_step[r["step"]].append(r["total_reward"])
        if by_step:
            xs = sorted(by_step)
            ax.plot(xs, [np.mean(by_step[x]) for x in xs], linestyle="none", marker="D", markersize=7,
                    markerfacecolor=colour, markeredgecolor="black", label=f"{label} greedy eval")
    return _finish(plt, fig, ax, out, "environment steps", "episode reward")


def _finish(plt, fig, ax, out: str | Path, xlabel: str, ylabel: str) -> Path:
    """Label, grid and legend the axes, save the figure as ``out`` and close it."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_ratings(runs: list[TrainingRun], out: str | Path, indexes: list[dict] | None = None) -> Path:
    """Self-play Elo ratings of each run's policy: its current rating at each episode end (the ``rating``
    extra; Elo is a running average already, so it is not smoothed) and every snapshot's final rating at
    the step it was taken. ``indexes``: each run's snapshot index as ``read_index`` returns it (default:
    read from the run's directory)."""
    from .selfplay import read_index

    plt = _pyplot()
    if indexes is None:
        indexes = [read_index(run) for run in runs]
    fig, ax = plt.subplots(figsize=(9, 5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (run, index) in enumerate(zip(runs, indexes)):
        colour = colours[k % len(colours)]
        label = str(index.get("policy") or f"{run.name}/{run.version}")
        rows = [r for r in run.read_train_episodes() if (r.get("extras") or {}).get("rating") is not None]
        if rows:
            steps = np.array([r["step"] for r in rows], dtype=float)
            ratings = np.array([r["extras"]["rating"] for r in rows], dtype=float)
            ax.plot(steps, ratings, color=colour, linewidth=1.5, label=f"{label}: current policy")
        current = (index.get("current") or {}).get("rating")
        if current is not None:
            ax.plot([run.metadata["total_steps"]], [current], linestyle="none", marker="*", markersize=13,
                    color=colour, markeredgecolor="black", label=f"{label}: current policy at the end")
        snaps = index["snapshots"]
        if snaps:
            ax.plot([s["step"] for s in snaps], [s["rating"] for s in snaps], linestyle="none", marker="o",
                    markerfacecolor="white", markeredgecolor=colour, markersize=7,
                    label=f"{label}: snapshots (final ratings)")
    ax.axhline(1200.0, color="grey", linewidth=0.8, linestyle=":")
    ax.set_title("Self-play ratings")
    return _finish(plt, fig, ax, out, "steps of the policy", "Elo rating")
