"""How the tables print their numbers: p-values as the study does, mean ± sd, confidence intervals."""

import numpy as np


def format_p(p: float) -> str:
    """A p-value as the study prints it, e.g. 1.7×10^-4."""
    if not np.isfinite(p):
        return "-"
    if p >= 0.01:
        return f"{p:.2f}"
    mantissa, exponent = f"{p:.1e}".split("e")
    return f"{mantissa}×10^{int(exponent)}"


def format_pm(mean: float, std: float, digits: int = 2, sep: str = "±") -> str:
    """"m±s" as in the study's tables (Table II prints " ± "): the one mean ± std format of the suite. A NaN
    std prints the mean alone, a NaN mean nothing."""
    if not np.isfinite(mean):
        return ""
    return f"{mean:.{digits}f}" if not np.isfinite(std) else f"{mean:.{digits}f}{sep}{std:.{digits}f}"


def format_ci(lo: float, hi: float) -> str:
    """"[lo, hi]" as in the study's tables."""
    return f"[{lo:.2f}, {hi:.2f}]"
