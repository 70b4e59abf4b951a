"""flytekit: the README example (examples/basics.py), for `pyflyte run`."""

# mypy: ignore-errors
# (this runs in the flytekit peer venv; Flyray's environment has no flytekit to check it with)

import numpy as np
import pandas as pd
from flytekit import task, workflow


@task
def generate_normal_df(n: int, mean: float, sigma: float) -> pd.DataFrame:
    rng = np.random.default_rng()
    return pd.DataFrame({"numbers": rng.normal(mean, sigma, size=n)})


@task
def compute_stats(df: pd.DataFrame) -> tuple[float, float]:
    return float(df["numbers"].mean()), float(df["numbers"].std())


@workflow
def wf(n: int = 200, mean: float = 0.0, sigma: float = 1.0) -> tuple[float, float]:
    return compute_stats(df=generate_normal_df(n=n, mean=mean, sigma=sigma))
