"""What 1,000 turns cost at list prices: Firestore operations, function time, Gemini tokens.

The Firestore operations per turn are the ones the benchmark measured with every
control on (the ``defaults (all on)`` rows of ``firestore_ops``); the function's
memory, CPU and concurrency are read from ``infra/config.env``; the Gemini tokens
are a typical first-aid exchange (below). Prices are list prices in USD, checked
on ``PRICES_CHECKED``; change them here when they change.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.report import Section

ROOT = Path(__file__).resolve().parents[1]
PRICES_CHECKED = "2026-11-30"
# Gemini API, paid tier, gemini-2.5-flash, prompts under 200k tokens (ai.google.dev/gemini-api/docs/pricing).
GEMINI_INPUT_PER_MTOK = 0.30
GEMINI_OUTPUT_PER_MTOK = 2.50  # thinking tokens bill as output; THINKING_BUDGET=0 by default
# Firestore Standard edition, regional US rates (cloud.google.com/firestore/pricing; europe-west1 is a
# little higher, multi-region nam5/eur3 twice these): per 100,000 documents.
FIRESTORE_READ_PER_100K = 0.03
FIRESTORE_WRITE_PER_100K = 0.09
FIRESTORE_DELETE_PER_100K = 0.01
# Cloud Run functions (gen2 = Cloud Run), request-based billing, tier 1 region (cloud.google.com/run/pricing).
CPU_PER_VCPU_SECOND = 0.000024
MEMORY_PER_GIB_SECOND = 0.0000025
REQUESTS_PER_MILLION = 0.40
# A typical first-aid exchange on gemini-2.5-flash: the system instruction (about 330 tokens),
# two earlier exchanges and the new message in (1,500 tokens), numbered steps out (400 tokens),
# the function busy about 3 s while it streams.
TYPICAL_PROMPT_TOKENS = 1_500
TYPICAL_OUTPUT_TOKENS = 400
TYPICAL_TURN_SECONDS = 3.0
# Deletes per turn: its turn document, deleted by TTL at the conversation's end.
DELETES_PER_TURN = 1.0
TURNS = 1_000


def deploy_settings(path: Path = ROOT / "infra" / "config.env") -> dict[str, str]:
    """MEMORY, CPU and CONCURRENCY as the deployment configures them."""
    text = path.read_text(encoding="utf-8")
    found = dict(re.findall(r'^(MEMORY|CPU|CONCURRENCY)="([^"]*)"', text, flags=re.MULTILINE))
    return {
        "MEMORY": found.get("MEMORY", "512Mi"),
        "CPU": found.get("CPU", "1"),
        "CONCURRENCY": found.get("CONCURRENCY", "16"),
    }


def _gib(memory: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi|M|G)", memory).groups()  # type: ignore[union-attr]
    return float(number) / (1024 if unit.startswith("M") else 1)


def spend(ops: Section) -> Section:
    """The cost of 1,000 turns, from the measured Firestore operations and the prices above."""
    section = Section(
        "spend",
        f"Cost of {TURNS:,} turns at list prices (USD, checked {PRICES_CHECKED})",
        ("item", "per turn", f"per {TURNS:,} turns", "price"),
    )
    rows = [r for r in ops.rows if r.get("configuration") == "defaults (all on)"]
    if not rows:
        section.error = "the Firestore operations were not measured (no emulator)"
        return section
    reads = sum(float(r["reads"] or 0) for r in rows) / len(rows)
    writes = sum(float(r["writes"] or 0) for r in rows) / len(rows)
    config = deploy_settings()
    cpu, gib, concurrency = float(config["CPU"]), _gib(config["MEMORY"]), int(config["CONCURRENCY"])
    instance_second = cpu * CPU_PER_VCPU_SECOND + gib * MEMORY_PER_GIB_SECOND
    items = [
        ("Firestore reads", reads, reads * FIRESTORE_READ_PER_100K / 100_000, f"${FIRESTORE_READ_PER_100K}/100k"),
        ("Firestore writes", writes, writes * FIRESTORE_WRITE_PER_100K / 100_000, f"${FIRESTORE_WRITE_PER_100K}/100k"),
        ("Firestore TTL deletes", DELETES_PER_TURN, DELETES_PER_TURN * FIRESTORE_DELETE_PER_100K / 100_000,
         f"${FIRESTORE_DELETE_PER_100K}/100k"),
        (f"function time, 1 turn at a time ({TYPICAL_TURN_SECONDS:g} s, {config['CPU']} vCPU, {config['MEMORY']})",
         TYPICAL_TURN_SECONDS, TYPICAL_TURN_SECONDS * instance_second, f"${instance_second:.7f}/instance-s"),
        (f"function time, {concurrency} turns sharing an instance", TYPICAL_TURN_SECONDS / concurrency,
         TYPICAL_TURN_SECONDS / concurrency * instance_second, f"CONCURRENCY={concurrency}"),
        ("function requests", 1, REQUESTS_PER_MILLION / 1_000_000, f"${REQUESTS_PER_MILLION}/M"),
        ("Gemini input tokens", TYPICAL_PROMPT_TOKENS, TYPICAL_PROMPT_TOKENS * GEMINI_INPUT_PER_MTOK / 1e6,
         f"${GEMINI_INPUT_PER_MTOK}/M"),
        ("Gemini output tokens", TYPICAL_OUTPUT_TOKENS, TYPICAL_OUTPUT_TOKENS * GEMINI_OUTPUT_PER_MTOK / 1e6,
         f"${GEMINI_OUTPUT_PER_MTOK}/M"),
    ]  # fmt: skip
    for name, amount, cost, price in items:
        section.add(
            **{
                "item": name,
                "per turn": round(amount, 3),
                f"per {TURNS:,} turns": f"${cost * TURNS:.4f}",
                "price": price,
            }
        )
    firestore = sum(cost for _, _, cost, _ in items[:3]) * TURNS
    function_busy = (items[3][2] + items[5][2]) * TURNS
    function_shared = (items[4][2] + items[5][2]) * TURNS
    gemini = (items[6][2] + items[7][2]) * TURNS
    section.notes.append(
        f"Cost of {TURNS:,} turns: ${firestore + function_shared + gemini:.2f} to "
        f"${firestore + function_busy + gemini:.2f} (Gemini ${gemini:.2f}, function ${function_shared:.3f} to "
        f"${function_busy:.3f}, Firestore ${firestore:.4f})."
    )
    tokens_per_turn = TYPICAL_PROMPT_TOKENS + TYPICAL_OUTPUT_TOKENS
    section.notes.append(
        f"Measured: {reads:.2f} reads and {writes:.2f} writes per turn with every control on. A typical exchange: "
        f"{TYPICAL_PROMPT_TOKENS:,} tokens in, {TYPICAL_OUTPUT_TOKENS} out ({tokens_per_turn:,}), so the default "
        f"DAILY_TOKEN_BUDGET=2,000,000 allows about {2_000_000 // tokens_per_turn:,} such turns a day, "
        f"${2_000_000 / tokens_per_turn * gemini / TURNS:.2f} of Gemini. Free tiers (Firestore's daily 50k reads "
        "and 20k writes, Cloud Run's monthly 180k vCPU-s) are not subtracted."
    )
    return section
