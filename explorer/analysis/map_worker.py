"""Compute one 2-D map in a separate, niced process and write it as safetensors (run by explorer.analysis.map_jobs).

    python -m explorer.analysis.map_worker MEANS.npy OUT.safetensors umap '{"n_neighbors": 15}' SEED
"""

from __future__ import annotations

import json
import sys

from explorer.analysis.maps import compute_map
from explorer.cache import write_entry
from explorer.runtime.workers import lower_priority, report


def main(argv: list[str]) -> int:
    src, out, method, params, seed = argv
    lower_priority()
    import numpy as np

    report(0.0, f"computing {method.upper()}")
    means = np.load(src, allow_pickle=False)
    coords = compute_map(means, method, seed=int(seed), progress=report, **json.loads(params))
    report(1.0, "saving")
    write_entry(out, {"coords": np.ascontiguousarray(coords, dtype=np.float32)},
                {"method": method, "params": params, "seed": str(seed), "items": str(len(means))})
    report(1.0, "done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
