"""The summary ``tokenctl encrypt-file`` prints once a run is over: what the output holds,
what this run did, and the rows left for a rerun."""

from __future__ import annotations

from shared.client import Summary

__all__ = ["summary_text"]


def _by_code(counts: dict[str, int], rows: dict[str, list[int]]) -> list[str]:
    lines = []
    for code, count in counts.items():
        examples = ", ".join(map(str, rows.get(code, [])))
        more = ", …" if count > len(rows.get(code, [])) else ""
        lines.append(f"  {code:<26} {count:>9,}  rows {examples}{more}")
    return lines


def summary_text(summary: Summary, out: str) -> str:
    lines = [
        f"{out}: {summary.total:,} rows: {summary.encrypted:,} encrypted, "
        f"{summary.refused:,} refused, {summary.not_done:,} not done",
        f"this run: {summary.written:,} rows in {summary.elapsed:.1f} s "
        f"({summary.rows_per_second:,.0f} rows/s); {summary.already_done:,} were already done",
    ]
    if summary.repaired:
        lines.append("repaired: the output ended with a torn line (a killed run); it was redone")
    if summary.refused:
        lines += ["refused (code, rows):", *_by_code(summary.refused_by_code, summary.refused_rows)]
    if summary.not_done:
        parts = [f"{code} {count:,}" for code, count in summary.failed_by_code.items()]
        unsent = summary.not_done - sum(summary.failed_by_code.values())
        if unsent:
            parts.append(f"not attempted {unsent:,}")
        shown = ", ".join(map(str, summary.failed_rows[:10]))
        more = ", …" if len(summary.failed_rows) > 10 else ""
        lines.append(
            f"not done: {summary.not_done:,} rows ({', '.join(parts)})"
            + (f"; failed rows {shown}{more}" if shown else "")
        )
        lines.append("rerun the same command to finish (the API was unavailable)")
    return "\n".join(lines)
