#!/usr/bin/env python3
"""Independent reference values for flagyard-stats (tests/reference.rs).

Every figure is computed here from the textbook formulas of STATS.md with
scipy's own distribution functions (t.sf, t.ppf, norm.cdf/sf/pdf/ppf,
chi2 via chisquare, false_discovery_control), never by calling the Rust code.
Where scipy has a ready-made test the formula result is cross-checked against
it (ttest_ind_from_stats / ttest_ind on raw data for Welch, chisquare for SRM,
false_discovery_control for BH); Holm is computed by hand.

Inputs are sufficient statistics (n, S = sum x, Q = sum x^2). Continuous
datasets are drawn from a seeded numpy generator and summed with math.fsum;
the variance (Q - S^2/n)/(n - 1) is evaluated exactly with fractions.Fraction
from those float sums, i.e. it is the variance the inputs imply. Input floats
are written as strings (Python repr, shortest round-trip) because serde_json's
default float parser may be off by one ulp, which would matter for the
near-constant dataset.

Undefined figures are null, following the crate's documented Status rules
(n = 0, n = 1, zero standard error, zero control mean).

Usage: python3 gen_reference.py   (writes reference.json next to this file)
Requires: numpy, scipy (tested with scipy 1.17).
"""

import json
import math
import os
from fractions import Fraction

import numpy as np
import scipy
from scipy import stats

RNG = np.random.default_rng(20240611)
TOL = 1e-9  # cross-check tolerance between formula and scipy's own tests


def close(a, b, tol=TOL):
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-300) or abs(a - b) < 1e-15


# ---------------------------------------------------------------- inputs


def conversion(n, conversions):
    return {"n": int(n), "sum": float(conversions), "sumSq": float(conversions)}


def continuous_from_raw(x):
    x = np.asarray(x, dtype=float)
    return {
        "n": int(x.size),
        "sum": math.fsum(x.tolist()),
        "sumSq": math.fsum((x * x).tolist()),
    }, x


def moments(kind, v):
    n, s, q = v["n"], v["sum"], v["sumSq"]
    if n == 0:
        return None, None
    m = s / n
    if kind == "conversion":
        return m, m * (1 - m)
    if n < 2:
        return m, None
    var = (Fraction(q) - Fraction(s) ** 2 / n) / (n - 1)
    return m, max(float(var), 0.0)


# ---------------------------------------------------------------- pair figures


def undefined_effect(status, estimate=None):
    return {"status": status, "estimate": estimate, "stdError": None, "df": None,
            "statistic": None, "pValue": None, "ciLower": None, "ciUpper": None}


def t_effect(est, se, nu, alpha):
    if se == 0:
        e = undefined_effect("zeroVariance", est)
        e["stdError"] = 0.0
        return e
    t = est / se
    q = stats.t.ppf(1 - alpha / 2, nu)
    return {"status": "ok", "estimate": est, "stdError": se, "df": nu, "statistic": t,
            "pValue": min(1.0, 2 * stats.t.sf(abs(t), nu)),
            "ciLower": est - q * se, "ciUpper": est + q * se}


def proportions(a, b, alpha):
    na, nb, xa, xb = a["n"], b["n"], a["sum"], b["sum"]
    if na == 0 or nb == 0:
        return {"status": "emptyVariant", "estimate": None, "pooledStdError": None,
                "unpooledStdError": None, "statistic": None, "pValue": None,
                "ciLower": None, "ciUpper": None}
    pa, pb = xa / na, xb / nb
    pool = (xa + xb) / (na + nb)
    se0 = math.sqrt(pool * (1 - pool) * (1 / na + 1 / nb))
    se1 = math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    out = {"status": "ok", "estimate": pb - pa, "pooledStdError": se0,
           "unpooledStdError": se1, "statistic": None, "pValue": None,
           "ciLower": None, "ciUpper": None}
    if se0 == 0:
        out["status"] = "zeroVariance"
        return out
    z = (pb - pa) / se0
    out["statistic"] = z
    out["pValue"] = min(1.0, 2 * stats.norm.sf(abs(z)))
    if se1 > 0:
        q = stats.norm.ppf(1 - alpha / 2)
        out["ciLower"], out["ciUpper"] = pb - pa - q * se1, pb - pa + q * se1
    return out


def bayes(rel, prior, alpha):
    keys = ["posteriorMean", "posteriorStdDev", "chanceToWin", "riskControl",
            "riskTreatment", "ciLower", "ciUpper"]
    if rel["status"] not in ("ok", "zeroVariance"):
        return dict({k: None for k in keys}, status=rel["status"])
    L, se = rel["estimate"], rel["stdError"]
    if se == 0:
        out = dict({k: None for k in keys}, status="zeroVariance")
        out["posteriorMean"], out["posteriorStdDev"] = L, 0.0
        return out
    if prior is None:
        mu, sigma = L, se
    else:
        precision = 1 / se**2 + 1 / prior["stdDev"] ** 2
        mu = (L / se**2 + prior["mean"] / prior["stdDev"] ** 2) / precision
        sigma = math.sqrt(1 / precision)
    x = mu / sigma
    q = stats.norm.ppf(1 - alpha / 2)
    return {"status": "ok", "posteriorMean": mu, "posteriorStdDev": sigma,
            "chanceToWin": stats.norm.cdf(x),
            "riskControl": mu * stats.norm.cdf(x) + sigma * stats.norm.pdf(x),
            "riskTreatment": -mu * stats.norm.cdf(-x) + sigma * stats.norm.pdf(x),
            "ciLower": mu - q * sigma, "ciUpper": mu + q * sigma}


def sequential(rel, n_total, alpha, n_star):
    out = {"status": rel["status"], "estimate": rel["estimate"], "ciLower": None,
           "ciUpper": None, "pValue": None}
    if rel["status"] not in ("ok",):
        return out
    L, se, N = rel["estimate"], rel["stdError"], n_total
    rho = math.sqrt((-2 * math.log(alpha) + math.log(1 - 2 * math.log(alpha))) / n_star)
    hw = se * math.sqrt(N) * math.sqrt(
        2 * (N * rho**2 + 1) / (N**2 * rho**2) * math.log(math.sqrt(N * rho**2 + 1) / alpha))
    p = min(1.0, math.sqrt(N * rho**2 + 1)
            * math.exp(-(rho**2) * N * (L / se) ** 2 / (2 * (N * rho**2 + 1))))
    out.update(ciLower=L - hw, ciUpper=L + hw, pValue=p)
    return out


def pair_figures(kind, a, b, alpha=0.05, n_star=5000.0, prior=None, raw=None):
    ma, va = moments(kind, a)
    mb, vb = moments(kind, b)
    summary = {"control": {"mean": ma, "variance": va}, "treatment": {"mean": mb, "variance": vb}}
    props = proportions(a, b, alpha) if kind == "conversion" else None
    if ma is None or mb is None:
        absolute = undefined_effect("emptyVariant")
        relative = undefined_effect("emptyVariant")
    elif a["n"] < 2 or b["n"] < 2:
        absolute = undefined_effect("tooFewUnits", mb - ma)
        relative = undefined_effect("tooFewUnits", (mb - ma) / abs(ma) if ma != 0 else None)
    else:
        na, nb = a["n"], b["n"]
        sa, sb = va / na, vb / nb
        se = math.sqrt(sa + sb)
        nu = (sa + sb) ** 2 / (sa**2 / (na - 1) + sb**2 / (nb - 1)) if se > 0 else None
        absolute = t_effect(mb - ma, se, nu, alpha)
        if se > 0:  # cross-check against scipy's Welch test
            ref = stats.ttest_ind_from_stats(mb, math.sqrt(vb), nb, ma, math.sqrt(va), na,
                                             equal_var=False)
            assert close(ref.statistic, absolute["statistic"]), (ref, absolute)
            assert close(ref.pvalue, absolute["pValue"]), (ref, absolute)
        if raw is not None and se > 0:
            ref = stats.ttest_ind(raw[1], raw[0], equal_var=False)
            ci = ref.confidence_interval(1 - alpha)
            assert close(ref.pvalue, absolute["pValue"], 1e-7), (ref.pvalue, absolute)
            assert close(ref.df, absolute["df"], 1e-7)
            assert close(ci.low, absolute["ciLower"], 1e-7) and close(ci.high, absolute["ciUpper"], 1e-7)
        if ma == 0:
            relative = undefined_effect("zeroControlMean")
        else:
            L = (mb - ma) / abs(ma)
            se_l = math.sqrt(vb / (nb * ma**2) + va * mb**2 / (na * ma**4))
            relative = t_effect(L, se_l, nu, alpha)
    return {
        "summary": summary,
        "absolute": absolute,
        "relative": relative,
        "proportions": props,
        "bayesian": bayes(relative, prior, alpha),
        "sequential": sequential(relative, a["n"] + b["n"], alpha, n_star),
    }


# ---------------------------------------------------------------- other figures


def srm_figures(units, weights):
    total = sum(units)
    expected = [total * w / sum(weights) for w in weights]
    res = stats.chisquare(units, expected)
    hand = sum((o - e) ** 2 / e for o, e in zip(units, expected))
    assert close(res.statistic, hand)
    p = float(res.pvalue)
    return {"statistic": float(res.statistic), "df": len(units) - 1, "pValue": p,
            "warning": bool(p < 0.001 and min(units) >= 8), "expected": expected}


def holm(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def bh_by_hand(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out, running = [0.0] * m, 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, min(1.0, m * p[i] / (rank + 1)))
        out[i] = running
    return out


def adjust_figures(p):
    bh = [float(x) for x in stats.false_discovery_control(p, method="bh")] if p else []
    assert all(close(a, b, 1e-12) for a, b in zip(bh, bh_by_hand(p)))
    return {"p": p, "holm": holm(p), "bh": bh}


def power_figures(baseline, mde, alpha, power):
    za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    if baseline["kind"] == "conversion":
        p1 = baseline["rate"]
        p2 = p1 * (1 + mde)
        n = (za + zb) ** 2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2
    else:
        n = (za + zb) ** 2 * 2 * baseline["variance"] / (mde * abs(baseline["mean"])) ** 2
    return {"unrounded": n, "unitsPerVariant": max(2, math.ceil(n)), "zAlpha": za, "zPower": zb}


def experiment_figures(units, weights, metrics, alpha=0.05, primary="relative"):
    comparisons, family = [], []
    for metric in metrics:
        ctrl = metric["variants"][0]
        for j, trt in enumerate(metric["variants"][1:], start=1):
            fig = pair_figures(metric["kind"], ctrl, trt, alpha)
            p = fig[primary]["pValue"]
            comparisons.append({"metric": metric["name"], "variant": j, "primaryPValue": p})
            family.append(1.0 if p is None else p)
    h, b = holm(family), adjust_figures(family)["bh"]
    for c, hv, bv in zip(comparisons, h, b):
        c["holm"] = None if c["primaryPValue"] is None else hv
        c["bh"] = None if c["primaryPValue"] is None else bv
    return {"srm": srm_figures(units, weights), "familySize": len(family), "comparisons": comparisons}


# ---------------------------------------------------------------- datasets


def pairs():
    out = []

    def add(name, kind, a, b, raw=None, **opts):
        out.append({"name": name, "kind": kind, "control": a, "treatment": b,
                    "alpha": opts.get("alpha", 0.05), "nStar": opts.get("n_star", 5000.0),
                    "prior": opts.get("prior"),
                    "expected": pair_figures(kind, a, b, raw=raw, **opts)})

    add("D1 worked example (STATS.md)", "conversion", conversion(10000, 1000), conversion(10000, 1100))
    add("conversion, unequal sizes, alpha 0.1", "conversion",
        conversion(50211, 4213), conversion(49120, 4502), alpha=0.1)
    ra, xa = continuous_from_raw(RNG.lognormal(2.0, 1.0, 2400))
    rb, xb = continuous_from_raw(RNG.lognormal(2.05, 1.0, 3100))
    add("continuous lognormal revenue, unequal sizes", "continuous", ra, rb, raw=(xa, xb))
    ra, xa = continuous_from_raw([3.0, 5.0, 4.0, 6.0, 2.0])
    rb, xb = continuous_from_raw([5.0, 7.0, 4.0, 8.0, 6.0, 9.0, 5.5])
    add("continuous tiny n (5 vs 7)", "continuous", ra, rb, raw=(xa, xb))
    add("conversion tiny n (2/5 vs 5/7)", "conversion", conversion(5, 2), conversion(7, 5))
    add("conversion millions (25M per arm)", "conversion",
        conversion(25_000_000, 2_501_234), conversion(25_000_000, 2_507_890))
    add("conversion 1e9 per arm", "conversion",
        conversion(1_000_000_000, 100_000_000), conversion(1_000_000_000, 100_030_000))
    ra, xa = continuous_from_raw(RNG.normal(10.0, 3.0, 2_000_000))
    rb, xb = continuous_from_raw(RNG.normal(10.005, 3.0, 2_100_000))
    add("continuous millions (2M vs 2.1M)", "continuous", ra, rb, raw=(xa, xb))
    add("zero conversions in treatment", "conversion", conversion(1000, 30), conversion(1000, 0))
    add("zero conversions in control", "conversion", conversion(800, 0), conversion(820, 6))
    ra, _ = continuous_from_raw(5.0 + 1e-7 * RNG.normal(0, 1, 1000))
    rb, _ = continuous_from_raw(5.0000001 + 1e-7 * RNG.normal(0, 1, 1200))
    add("continuous near-zero variance (sd 1e-7 around 5)", "continuous", ra, rb)
    ra, xa = continuous_from_raw(3_333_333.0 + (RNG.random(777) < 0.13))
    rb, xb = continuous_from_raw(3_333_333.0 + (RNG.random(650) < 0.2))  # Q < 2^53: exact
    add("continuous integer data, S^2 beyond 2^53", "continuous", ra, rb, raw=(xa, xb))
    add("conversion with prior N(0, 0.1^2)", "conversion",
        conversion(4000, 380), conversion(4000, 420), prior={"mean": 0.0, "stdDev": 0.1})
    ra, xa = continuous_from_raw(RNG.normal(50.0, 20.0, 900))
    rb, xb = continuous_from_raw(RNG.normal(51.5, 21.0, 950))
    add("continuous with prior N(0.02, 0.05^2), alpha 0.1, N* 10000", "continuous", ra, rb,
        raw=(xa, xb), alpha=0.1, n_star=10000.0, prior={"mean": 0.02, "stdDev": 0.05})
    ra, xa = continuous_from_raw(RNG.normal(-3.0, 2.0, 300))
    rb, xb = continuous_from_raw(RNG.normal(-2.7, 2.0, 320))
    add("continuous negative control mean", "continuous", ra, rb, raw=(xa, xb))
    return out


def srms():
    cases = [
        ("balanced two-way", [5000, 5000], [5000, 5000]),
        ("three-way basis points", [3400, 3300, 3050], [3334, 3333, 3333]),
        ("four-way uneven weights", [5100, 1950, 2010, 980], [5000, 2000, 2000, 1000]),
        ("mismatch but an arm below 8 units", [30, 7], [1, 1]),
        ("huge n mismatch", [50_100_000, 49_900_000], [0.5, 0.5]),
    ]
    return [{"name": n, "units": u, "weights": [float(x) for x in w], "expected": srm_figures(u, w)}
            for n, u, w in cases]


def adjustments():
    rand = [float(x) for x in RNG.uniform(0, 0.2, 9)]
    lists = [
        [0.01, 0.04, 0.03, 0.005],
        rand + [0.0, 1.0, rand[2]],
        [0.5],
        [],
        [0.02, 0.02, 0.02, 0.9],
    ]
    return [adjust_figures(p) for p in lists]


def powers():
    cases = [
        ({"kind": "conversion", "rate": 0.1}, 0.05, 0.05, 0.8),
        ({"kind": "conversion", "rate": 0.02}, -0.1, 0.01, 0.9),
        ({"kind": "continuous", "mean": 50.0, "variance": 400.0}, 0.02, 0.1, 0.9),
        ({"kind": "continuous", "mean": -3.0, "variance": 4.0}, 0.1, 0.05, 0.8),
    ]
    return [{"baseline": b, "mde": m, "alpha": a, "power": p, "expected": power_figures(b, m, a, p)}
            for b, m, a, p in cases]


def experiments():
    def revenue(mu, n):
        return continuous_from_raw(RNG.lognormal(mu, 0.8, n))[0]

    e1_units = [10_050, 9_980, 10_020]
    e1 = [
        {"name": "signup", "kind": "conversion",
         "variants": [conversion(10_050, 1_005), conversion(9_980, 1_102), conversion(10_020, 1_040)]},
        {"name": "revenue", "kind": "continuous",
         "variants": [revenue(1.0, 10_050), revenue(1.03, 9_980), revenue(0.99, 10_020)]},
    ]
    e2_units = [5_400, 2_000, 1_950, 1_000]
    e2 = [
        {"name": "purchase", "kind": "conversion",
         "variants": [conversion(5_400, 270), conversion(2_000, 118), conversion(1_950, 99),
                      conversion(1_000, 41)]},
        {"name": "rare event", "kind": "conversion",
         "variants": [conversion(5_400, 0), conversion(2_000, 2), conversion(1_950, 0),
                      conversion(1_000, 1)]},
    ]
    return [
        {"name": "3 variants x 2 metrics, relative primary", "units": e1_units,
         "weights": [3334.0, 3333.0, 3333.0], "alpha": 0.05, "primary": "relative", "metrics": e1,
         "expected": experiment_figures(e1_units, [3334, 3333, 3333], e1)},
        {"name": "4 variants x 2 metrics, SRM, undefined lifts, absolute primary",
         "units": e2_units, "weights": [5000.0, 2000.0, 2000.0, 1000.0], "alpha": 0.05,
         "primary": "absolute", "metrics": e2,
         "expected": experiment_figures(e2_units, [5000, 2000, 2000, 1000], e2, primary="absolute")},
    ]


def stringify_inputs(obj):
    """Input floats (sum, sumSq) as repr strings: exact round-trip in Rust."""
    if isinstance(obj, dict):
        return {k: (repr(float(v)) if k in ("sum", "sumSq") else stringify_inputs(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [stringify_inputs(v) for v in obj]
    if isinstance(obj, (np.floating,)):
        return float(obj)
    return obj


def main():
    doc = {
        "generator": "stats/tests/data/gen_reference.py",
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "pairs": pairs(),
        "srm": srms(),
        "adjust": adjustments(),
        "power": powers(),
        "experiments": experiments(),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(stringify_inputs(doc), f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"wrote {path}: {len(doc['pairs'])} pairs, {len(doc['srm'])} SRM, "
          f"{len(doc['adjust'])} adjustment lists, {len(doc['power'])} power, "
          f"{len(doc['experiments'])} experiments")


if __name__ == "__main__":
    main()
