"""Action masks as every greedy or learning policy takes them: ``(n, n_actions)`` bool arrays, True = legal."""

from __future__ import annotations

from typing import Any

import numpy as np


def legal_masks(masks: Any, n_rows: int, n_actions: int) -> np.ndarray:
    """Masks as an ``(n_rows, n_actions)`` bool array; other shapes and dtypes, and a row with no legal action,
    are refused clearly."""
    masks = np.asarray(masks)
    if masks.dtype != np.bool_ or masks.shape != (n_rows, n_actions):
        raise ValueError(f"masks must be a bool array of shape ({n_rows}, {n_actions}), got dtype {masks.dtype} "
                         f"shape {masks.shape}")
    legal = masks.any(axis=1)
    if not legal.all():
        raise ValueError(f"masks row {int(np.flatnonzero(~legal)[0])} allows no action (all False)")
    return masks
