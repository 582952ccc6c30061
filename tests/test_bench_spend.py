"""The benchmark's cost of 1,000 turns: measured store operations priced at the documented list prices."""

from __future__ import annotations

from bench import spend
from bench.report import Section


def _ops(reads: float, writes: float) -> Section:
    section = Section("firestore_ops", "ops", ("configuration", "reads", "writes"))
    section.add(configuration="all off", reads=0.0, writes=3.0)
    section.add(configuration="defaults (all on)", reads=reads, writes=writes)
    return section


def test_cost_of_a_thousand_turns_prices_each_part() -> None:
    section = spend.spend(_ops(reads=2.0, writes=7.0))
    cost = {row["item"]: row["per 1,000 turns"] for row in section.rows}
    assert cost["Firestore reads"] == "$0.0006"  # 2,000 reads at $0.03 per 100k
    assert cost["Firestore writes"] == "$0.0063"  # 7,000 writes at $0.09 per 100k
    assert cost["Gemini input tokens"] == "$0.4500"  # 1.5M tokens at $0.30 per M
    assert cost["Gemini output tokens"] == "$1.0000"  # 0.4M tokens at $2.50 per M
    settings = spend.deploy_settings()
    assert settings["CONCURRENCY"] == "16" and settings["MEMORY"] == "512Mi"
    # 3 s of 1 vCPU and 0.5 GiB: 3 × (0.000024 + 0.5 × 0.0000025) × 1,000
    assert cost["function time, 1 turn at a time (3 s, 1 vCPU, 512Mi)"] == "$0.0757"
    assert any(note.startswith("Cost of 1,000 turns: $1.46 to $1.53") for note in section.notes)


def test_no_measured_operations_is_an_error_not_a_guess() -> None:
    section = spend.spend(Section("firestore_ops", "ops", ()))
    assert section.error is not None and section.rows == []
