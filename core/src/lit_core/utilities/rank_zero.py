"""Lightning's ``utilities.rank_zero`` path: run on global rank zero only, and rank-zero messages."""

from ..rank_zero import log, rank_zero_deprecation, rank_zero_info, rank_zero_only, rank_zero_warn


def rank_zero_debug(message: str) -> None:
    """Log ``message`` at DEBUG level on rank zero."""
    if rank_zero_only.rank == 0:  # type: ignore[attr-defined]
        log.debug(message)


__all__ = ["rank_zero_debug", "rank_zero_deprecation", "rank_zero_info", "rank_zero_only", "rank_zero_warn"]
