#!/usr/bin/env python3
"""Generate bucketing test vectors with an independent MurmurHash3 (PyPI `mmh3`).

    pip install mmh3 && python3 gen_bucketing_vectors.py > bucketing_vectors.tsv

Columns: salt, unit (as bucketed: the exact UTF-8 text), h (unsigned), bucket.
Tab, newline and backslash never occur in the generated strings, so the file is
plain tab-separated text.
"""
import random

import mmh3

rng = random.Random(20261126)

ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz0123456789-_",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@.+:",
    "üñéø東京日本語Ωπ😀🚀ß",
]


def word(max_len):
    alphabet = rng.choice(ALPHABETS)
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, max_len)))


def row(salt, unit):
    key = (salt + ":" + unit).encode("utf-8")
    h = mmh3.hash(key, 0, signed=False)
    return f"{salt}\t{unit}\t{h}\t{h % 10000}"


rows = []
# Every salt length modulo 4 against every unit length 0..16: exercises the
# carried tail of the precomputed prefix.
for salt_len in range(0, 9):
    salt = "s" * salt_len
    for unit_len in range(0, 17):
        rows.append(row(salt, "u" * unit_len))
# Realistic flag keys and user ids.
for i in range(400):
    rows.append(row(rng.choice(["new-checkout", "dark-mode", "checkout-button-exp", "x"]) + str(i % 7), f"user-{rng.randint(0, 10**9)}"))
# Integer units as their plain decimal text (what a context integer buckets as).
for i in range(200):
    rows.append(row("int-salt", str(rng.randint(-(2**63), 2**63 - 1))))
for n in [0, 1, -1, 42, -7, 9007199254740993, -9223372036854775808, 9223372036854775807]:
    rows.append(row("int-salt", str(n)))
# Random unicode salts and units.
while len(rows) < 1300:
    rows.append(row(word(24), word(40)))
print("\n".join(rows))
