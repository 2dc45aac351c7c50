"""Motion laws of MDS-UPDRS-III items as functions of a continuous severity: repetitive movements with
slowing, amplitude decrement and halts (items 3.4-3.8), tremor amplitude by the thresholds of 3.15-3.16."""

import numpy as np

# Item 3.15/3.16 anchors: score 1 below 1 cm, 2 at 1-3 cm, 3 at 3-10 cm, 4 above 10 cm. The latent severity
# crosses score k at k - 0.5, so the amplitude (peak-to-peak, cm) passes the item's thresholds there.
TREMOR_KNOTS = (np.array([0.0, 0.5, 1.5, 2.5, 3.5, 4.5]), np.array([0.0, 0.2, 1.0, 3.0, 10.0, 16.0]))

# Items 3.4-3.8: expected interruptions per 10 movements (score 1: 1-2, 2: 3-5, 3: more than 5).
HALT_KNOTS = (np.array([0.0, 0.5, 1.0, 2.0, 3.0, 4.0]), np.array([0.0, 0.3, 1.5, 4.0, 6.5, 6.5]))


def smooth_noise(rng: np.random.Generator, n: int, fps: float, cutoff_hz: float) -> np.ndarray:
    """Zero-mean, unit-variance noise (n,) without content above ~cutoff_hz (a random-phase Fourier sum)."""
    freqs = np.fft.rfftfreq(n, 1.0 / fps)
    spec = (rng.normal(size=freqs.size) + 1j * rng.normal(size=freqs.size)) * (freqs <= cutoff_hz)
    spec[0] = 0.0
    x = np.fft.irfft(spec, n)
    sd = x.std()
    return x / sd if sd > 0 else x


def repetitive(t: np.ndarray, severity: float, rng: np.random.Generator, f0: float) -> np.ndarray:
    """Opening (T,) in [0, 1] of a repeated movement (tapping, opening-closing, turning) per items 3.4-3.8.

    Severity 0: full amplitude at f0; with severity the movement slows (score 1 slight, 3 moderate), its
    amplitude shrinks and decrements from the end (score 1), midway (2) or after the first movements (3),
    and it halts (HALT_KNOTS per 10 movements; from severity ~2.2 a longer arrest). Severity 4 barely moves.
    """
    s = float(np.clip(severity, 0.0, 4.5))
    dt = float(t[1] - t[0]) if len(t) > 1 else 1.0 / 25
    duration = float(t[-1]) + dt
    lead = rng.uniform(0.05, 0.25) * duration  # still before the first movement
    freq = f0 * max(1.0 - 0.16 * s, 0.25) * (1.0 + (0.04 + 0.05 * s) * smooth_noise(rng, len(t), 1 / dt, 1.0))
    amplitude = max(1.0 - 0.1 * s, 0.3) * float(np.clip((4.3 - s) / 0.8, 0.08, 1.0))
    progress = np.clip((t - lead) / max(duration - lead, dt), 0.0, 1.0)
    onset = float(np.clip(1.0 - 0.3 * s, 0.05, 1.0))
    decrement = 1.0 - 0.15 * s * np.clip((progress - onset) / (1.0 - onset + 1e-6), 0.0, 1.0)
    moving = t >= lead
    n_movements = max(float(freq.mean()) * (duration - lead), 1.0)
    for _ in range(rng.poisson(np.interp(s, *HALT_KNOTS) * n_movements / 10.0)):
        start = rng.uniform(lead, duration)
        moving &= ~((t >= start) & (t < start + rng.uniform(0.1, 0.3) * (1.0 + 0.15 * s)))
    if rng.random() < np.clip(s - 2.2, 0.0, 1.0):  # an arrest: a freeze of about a second
        start = rng.uniform(lead, duration)
        moving &= ~((t >= start) & (t < start + rng.uniform(0.7, 1.6)))
    phase = 2 * np.pi * np.cumsum(freq * moving * dt)
    return amplitude * decrement * (0.5 - 0.5 * np.cos(phase))


def severity_tremor_amplitude(severity: float | np.ndarray) -> float | np.ndarray:
    """Peak-to-peak tremor amplitude in cm for a latent severity, through items 3.15/3.16's thresholds."""
    return np.interp(np.clip(severity, 0.0, 4.5), *TREMOR_KNOTS)


def tremor(t: np.ndarray, severity: float, rng: np.random.Generator, freq_hz: float) -> np.ndarray:
    """Tremor displacement (T, 2) in cm at freq_hz (4-6 Hz in PD), mostly vertical, waxing and waning."""
    amp = severity_tremor_amplitude(severity) / 2.0
    fps = 1.0 / float(t[1] - t[0]) if len(t) > 1 else 25.0
    envelope = 1.0 + 0.25 * smooth_noise(rng, len(t), fps, 0.4)
    phase = 2 * np.pi * freq_hz * t + 0.3 * smooth_noise(rng, len(t), fps, 1.0) + rng.uniform(0, 2 * np.pi)
    direction = np.array([rng.uniform(-0.35, 0.35), 1.0])
    return (amp * envelope * np.sin(phase))[:, None] * direction
