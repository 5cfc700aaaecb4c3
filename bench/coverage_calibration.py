#!/usr/bin/env python3
"""Coverage of the lens posterior from the rows of `astrorim bench coverage`.

Usage: coverage_calibration.py COVERAGE.csv[,MORE.csv…] OUT.csv [TEMPERATURE]

Reads the per-lens intervals (θ_E and q: 2.5, 16, 84, 97.5 percentiles)
of one file, or of several joined by commas (runs with other step counts,
astrorim versions or temperatures, each lens in one of them), leaves
out lenses whose refinement failed (ln L of the truth above the
fit's by more than 10: the pipeline's lens in another basin, which the
posterior about it cannot cover), and writes the observed fractions of
truths inside the central intervals against their nominal level, with the
binomial band nominal ± 1σ, as OUT.csv (for `astrorim plot`): at every
level 0, 0.05, …, 1 from the truths' ranks in their posteriors (columns
theta_e_rank, q_rank: inside the central interval of level c when
|2 rank − 1| ≤ c), from the lenses that have them, or, when none has
(rows written before 2026-12-04), at 0, 0.68, 0.95 and 1; prints the counts as a Markdown table row, and the
offsets z = (median − truth) / (half the 68 % interval) of θ_E and q
(median, standard deviation, how many below the truth): a calibrated
posterior has z centred on 0 with spread about 1.

Then the coverage the same chains would have had at other likelihood
temperatures T (T_run: each row's `temperature` column; TEMPERATURE, default
2, for rows without one): for a posterior ∝ L^(1/T) × prior dominated by a
near-Gaussian likelihood, every interval scales about the median by
√(T/T_run), so the truth lies inside the T interval when T_run u² ≤ T, with
u its distance from the median in units of the interval's half on the
truth's side — which pools runs at several temperatures. The T at which
the 68 % (95 %) coverage is nominal is the 68th (95th) percentile of
T_run u², with a bootstrap 68 % range over the lenses (seeded).
An estimate, not a measurement: the prior's pull on the median is left
out, and a chosen T must be checked by a run at it on other lenses.

Last, the likelihood's own check of T: Δ = ln L(fit) − ln L(truth)
(column delta_ln_likelihood_fit_minus_truth; both at the fitted lens
light, so only the 7 lens parameters differ). For a likelihood that is
L_true^T (a calibrated likelihood L_true raised to the power T; the
posterior samples L^(1/T)) and a fit at its maximum, 2Δ/T follows χ²
with 7 degrees of freedom: T ≈ mean(2Δ)/7 (bootstrap 68 % range), and
the fraction of lenses with Δ > 8 is compared with the χ²₇ tail at each
T. A fit short of the maximum (Δ < 0 happens) pulls this T low.
Standard library only.
"""
import csv
import math
import random
import sys

FAILED_REFINEMENT = -10.0
TEMPERATURES = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
BOOTSTRAP = 2000
# Lens parameters the fit and the truth differ in (θ_E, e1, e2, centre, γ1, γ2).
LENS_PARAMETERS = 7
DELTA_TAIL = 8.0


def distance(r, name, lo, hi):
    """|truth − median| over the interval's half (median to `lo` or `hi`) on the truth's side."""
    truth, median = float(r[f"{name}_true"]), float(r[f"{name}_median"])
    edge = float(r[f"{name}_{hi}"]) if truth >= median else float(r[f"{name}_{lo}"])
    return abs(truth - median) / abs(edge - median)


def percentile(values, p):
    """The smallest value with at least a fraction p of `values` at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def bootstrap_68(statistic, values, rng):
    """The 16th and 84th percentiles of `statistic` over BOOTSTRAP resamplings of `values` (with replacement, from `rng`)."""
    resampled = sorted(statistic(rng.choices(values, k=len(values))) for _ in range(BOOTSTRAP))
    return resampled[int(0.16 * BOOTSTRAP)], resampled[int(0.84 * BOOTSTRAP)]


def edge_temperature(r, name, lo, hi, t_run):
    """The likelihood temperature at which the truth lies on the interval's edge: T_row × u², T_row the row's
    `temperature` column (`t_run` for rows without one); the truth is inside the interval at T when this is ≤ T."""
    t_row = float(r["temperature"]) if r.get("temperature") else t_run
    return t_row * distance(r, name, lo, hi) ** 2


def temperatures(usable, t_run):
    """Prints the coverage at each of TEMPERATURES and the nominal-coverage T of θ_E and q, each row scaled from its own T."""
    print(f"coverage at likelihood temperature T (scaled from each row's T; without one, {t_run:g}):")
    print("| T | " + " | ".join(f"{t:g}" for t in TEMPERATURES) + " |")
    print("|---" * (len(TEMPERATURES) + 1) + "|")
    rng = random.Random(1)
    estimates = []
    for name, label in (("theta_e", "θ_E"), ("q", "q")):
        for level, lo, hi in ((0.68, "p16", "p84"), (0.95, "p2_5", "p97_5")):
            edges = [edge_temperature(r, name, lo, hi, t_run) for r in usable]
            cells = [f"{sum(e <= t for e in edges) / len(edges):.2f}" for t in TEMPERATURES]
            print(f"| {label} {level:.0%} | " + " | ".join(cells) + " |")
            best = percentile(edges, level)
            low, high = bootstrap_68(lambda v: percentile(v, level), edges, rng)
            estimates.append(f"{label}: {level:.0%} coverage nominal at T ≈ {best:.2f} (bootstrap 68 %: {low:.2f}–{high:.2f})")
    print("\n".join(estimates))


def chi2_7_survival(x):
    """P(χ² > x) for 7 degrees of freedom (closed form for odd degrees)."""
    if x <= 0:
        return 1.0
    r = math.sqrt(x)
    return math.erfc(r / math.sqrt(2)) + math.sqrt(2 / math.pi) * math.exp(-x / 2) * (r + r**3 / 3 + r**5 / 15)


def likelihood_temperature(usable):
    """Prints T from the fits' ln L above the truths' and the Δ > DELTA_TAIL fraction against χ²₇'s."""
    deltas = [float(r["delta_ln_likelihood_fit_minus_truth"]) for r in usable]
    n = len(deltas)

    def temperature(v):
        return 2 * sum(v) / len(v) / LENS_PARAMETERS

    estimate = temperature(deltas)
    low, high = bootstrap_68(temperature, deltas, random.Random(2))
    tail = sum(d > DELTA_TAIL for d in deltas)
    print(
        f"likelihood temperature from Δ = ln L(fit) − ln L(truth): mean(2Δ)/{LENS_PARAMETERS} = {estimate:.2f} "
        f"(bootstrap 68 %: {low:.2f}–{high:.2f}); {sum(d < 0 for d in deltas)}/{n} fits below the truth"
    )
    expected = ", ".join(f"T = {t:g}: {chi2_7_survival(2 * DELTA_TAIL / t):.2f}" for t in TEMPERATURES)
    print(f"Δ > {DELTA_TAIL:g}: {tail}/{n} ({tail / n:.2f}); expected from χ²₇ at {expected}")


def read_rows(sources):
    """The rows of the comma-separated CSV files `sources`; exits when a lens is in two or the temperatures differ."""
    rows, seen = [], {}
    for source in sources.split(","):
        for r in csv.DictReader(open(source)):
            if r["index"] in seen:
                sys.exit(f"{source}: lens {r['index']} is also in {seen[r['index']]}")
            seen[r["index"]] = source
            rows.append(r)
    temperatures_run = {r["temperature"] for r in rows if r.get("temperature")}
    if len(temperatures_run) > 1:
        print(f"rows of temperatures {', '.join(sorted(temperatures_run))}: the counts and the curve mix them")
    return rows


def main(source, out, t_run):
    rows = read_rows(source)
    usable = [r for r in rows if float(r["delta_ln_likelihood_fit_minus_truth"]) > FAILED_REFINEMENT]
    n = len(usable)
    if n == 0:
        sys.exit(f"{source}: no usable lens")

    def inside(r, name, lo, hi):
        return float(r[f"{name}_{lo}"]) <= float(r[f"{name}_true"]) <= float(r[f"{name}_{hi}"])

    counts = {}
    for name in ("theta_e", "q"):
        counts[name] = (
            sum(inside(r, name, "p16", "p84") for r in usable),
            sum(inside(r, name, "p2_5", "p97_5") for r in usable),
        )
    ranked = [r for r in usable if r.get("theta_e_rank") and r.get("q_rank")]
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["nominal", "θ_E", "q", "nominal − 1σ (binomial)", "nominal + 1σ (binomial)", "nominal (calibrated)"])
        # (level, observed fraction of θ_E and q) and the lenses behind them.
        if ranked:
            m = len(ranked)
            points = [
                (step / 20, [sum(abs(2 * float(r[f"{name}_rank"]) - 1) <= step / 20 + 1e-12 for r in ranked) / m for name in ("theta_e", "q")])
                for step in range(21)
            ]
        else:
            m = n
            points = [
                (level, [level if k is None else counts[name][k] / n for name in ("theta_e", "q")])
                for level, k in ((0.0, None), (0.68, 0), (0.95, 1), (1.0, None))
            ]
        for level, observed in points:
            band = math.sqrt(level * (1 - level) / m)
            w.writerow([level, *observed, max(0.0, level - band), min(1.0, level + band), level])
    deltas = sorted(float(r["delta_ln_likelihood_fit_minus_truth"]) for r in usable)
    taus = sorted(float(r["tau_max"]) for r in usable)
    median = lambda v: v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])
    (t68, t95), (q68, q95) = counts["theta_e"], counts["q"]
    print(
        f"| {len(rows)} ({n} usable) | {t68}/{n} ({t68 / n:.2f}) | {t95}/{n} ({t95 / n:.2f}) | {q68}/{n} ({q68 / n:.2f}) | "
        f"{q95}/{n} ({q95 / n:.2f}) | {median(deltas):.1f} / {sum(deltas) / n:.1f} | {median(taus):.0f} |"
    )
    print(f"binomial 1σ at n = {n}: ±{math.sqrt(0.68 * 0.32 / n):.3f} (68 %), ±{math.sqrt(0.95 * 0.05 / n):.3f} (95 %)")
    if ranked:
        print(f"{out}: the coverage curve from the ranks of {len(ranked)} of the {n} usable lenses")
    for name, label in (("theta_e", "θ_E"), ("q", "q")):
        z = sorted(
            (float(r[f"{name}_median"]) - float(r[f"{name}_true"])) / (0.5 * (float(r[f"{name}_p84"]) - float(r[f"{name}_p16"])))
            for r in usable
        )
        mean = sum(z) / n
        sd = math.sqrt(sum((v - mean) ** 2 for v in z) / n)
        below = sum(v < 0 for v in z)
        print(f"{label}: (median − truth) / half-width: median {median(z):+.2f}, mean {mean:+.2f}, sd {sd:.2f}; {below}/{n} below the truth")
    temperatures(usable, t_run)
    likelihood_temperature(usable)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) == 4 else 2.0)
