"""Raw Ray doing what ``flyray run examples/basics.py wf`` does, for the cli_run workload.

    RAW_RAY_ADDRESS=local|<gcs address> python -m benchmarks._raw_basics N MEAN SIGMA

``local`` starts a Ray cluster in this process, as Flyray's FLYRAY_RAY_ADDRESS=local;
an address attaches to a running one. Prints the (mean, std) of the samples.
"""

from __future__ import annotations

import logging
import os
import sys

import numpy as np
import pandas as pd
import ray


@ray.remote
def generate_normal_df(n: int, mean: float, sigma: float) -> pd.DataFrame:
    rng = np.random.default_rng()
    df: pd.DataFrame = pd.DataFrame({"numbers": rng.normal(mean, sigma, size=n)})
    return df


@ray.remote
def compute_stats(df: pd.DataFrame) -> tuple[float, float]:
    return float(df["numbers"].mean()), float(df["numbers"].std())


def main() -> None:
    n, mean, sigma = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    address = os.environ.get("RAW_RAY_ADDRESS", "local")
    if address == "local":
        ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    else:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    print(ray.get(compute_stats.remote(generate_normal_df.remote(n, mean, sigma))))


if __name__ == "__main__":
    main()
