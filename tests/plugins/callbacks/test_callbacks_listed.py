"""``lit plugins`` lists lit-callbacks: the callbacks usable by name, with their distribution."""

from __future__ import annotations

from lit_core.commands import describe_plugins


def test_lit_plugins_lists_the_callbacks_distribution() -> None:
    rows = {row["name"]: row for row in describe_plugins() if row["distribution"] == "lit-callbacks"}
    assert {"lr_monitor", "timer", "device_stats", "model_summary", "lr_finder", "batch_size_finder"} <= set(rows)
    assert all(row["kind"] == "callback" and row["available"] for row in rows.values())
    assert rows["model_summary"]["hooks"] == ["lit_print_model_summary"]
