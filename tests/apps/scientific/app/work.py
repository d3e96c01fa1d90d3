"""Work for child processes and handlers alike: importable by name, so multiprocessing's `spawn`
finds it in a child started with `sys.executable`."""


def inverse(n=200, seed=0):
    """Inverts a well-conditioned n×n matrix; returns how far A·A⁻¹ is from the identity."""
    import numpy as np

    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n)) + n * np.eye(n)
    inv = np.linalg.inv(a)
    return {"n": n, "residual": float(np.abs(a @ inv - np.eye(n)).max())}


def summarize(rows=1000):
    """A small pandas computation: a grouped mean and sum over a generated table."""
    import numpy as np
    import pandas as pd

    df = pd.DataFrame({"group": np.arange(rows) % 4, "value": np.arange(rows, dtype="float64")})
    stats = df.groupby("group")["value"].agg(["mean", "sum", "count"])
    return {
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "mean": [float(x) for x in stats["mean"]],
        "sum": [float(x) for x in stats["sum"]],
        "count": [int(x) for x in stats["count"]],
    }


def dot(k):
    """Runs in a pool's worker: numpy imported in the child."""
    import numpy as np

    v = np.arange(k, dtype="float64")
    return float(v @ v)
