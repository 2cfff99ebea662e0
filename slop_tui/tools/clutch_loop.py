"""The clutch loop: ask until a proposal is approved or rejected, checking every edit.

A person's edit at the clutch is input like a model's: it is validated (same tool, sandbox,
limits) and re-proposed, so what is approved is always the diff of exactly what would run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec

from slop_tui.errors import SlopError
from slop_tui.models import Decision, Edit, Proposal
from slop_tui.tools.clutch import Clutch, EditRefused, same_tool
from slop_tui.tools.executor import ToolExecutor, describe_error


async def pass_clutch(
    clutch: Clutch,
    executor: ToolExecutor,
    proposal: Proposal,
    *,
    on_decision: Callable[[Proposal, Decision], Awaitable[None]] | None = None,
) -> tuple[Decision, Proposal]:
    """Ask `clutch` until it approves or rejects; return that decision and its proposal.

    An `Edit` is checked (same tool, sandbox, limits): a bad one is refused and the clutch is
    asked again about the last good proposal, shown with `error` set to "edit refused: ..."
    (the returned proposal does not carry that note); a good one is re-proposed, so the clutch
    always sees the diff of exactly what would be applied.
    `on_decision` sees every round (the conductor logs them).
    """
    current = proposal
    last_good = proposal
    while True:
        decision = await clutch.decide(current)
        if on_decision is not None:
            await on_decision(current, decision)
        if not isinstance(decision, Edit):
            # The answer is about the last good proposal: a refused edit's note was only shown.
            return decision, last_good
        args = decision.arguments
        try:
            if not same_tool(last_good, args):
                raise EditRefused(
                    f"edited arguments are for {args.TOOL!r}; an edit keeps the tool ({last_good.tool!r})"
                )
            executor.validate(args)
        except (SlopError, OSError) as exc:
            note = f"edit refused: {describe_error(exc)}"
            if last_good.error:
                note += f"\n{last_good.error}"
            current = msgspec.structs.replace(last_good, error=note)
            continue
        last_good = current = executor.propose(last_good.ticket_id, args)
