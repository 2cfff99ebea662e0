"""The clutch loop: ask until a proposal is approved or rejected, checking every edit.

A person's edit at the clutch is input like a model's: it is validated (same tool, sandbox,
limits) and re-proposed, so what is approved is always the diff of exactly what would run.
A choice of hunks is turned into the text with only those hunks applied and goes the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec

from slop_tui.errors import SlopError
from slop_tui.models import Approve, ApproveHunks, Decision, Edit, Proposal, Reject, ToolArgs
from slop_tui.tools.clutch import Clutch, EditRefused, same_tool
from slop_tui.tools.executor import ToolExecutor, describe_error
from slop_tui.tools.hunks import HunksRefused, apply_hunks, args_for_text, hunk_count
from slop_tui.tools.proposals import unified_diff


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
    always sees the diff of exactly what would be applied. An `Edit` equal to the arguments it
    answers is not an edit: it is an `Approve()`.

    `ApproveHunks` builds the text with only the chosen hunks applied, checks it like an edit,
    and returns (that decision, the re-proposal of it), or (`Approve()`, the proposal) when
    every hunk is chosen; an empty choice is a `Reject` with its
    reason, a bad one (a hunk that does not exist, a file changed since) is refused like an
    edit. Re-proposals keep the original's `context`. `on_decision` sees every round (the
    conductor logs them).
    """
    current = proposal
    last_good = proposal
    while True:
        decision = _normalised(await clutch.decide(current), last_good)
        if on_decision is not None:
            await on_decision(current, decision)
        if isinstance(decision, ApproveHunks):
            try:
                args = _chosen_hunks(executor, last_good, decision)
            except _Stale as exc:
                # Asked again about the file as it is now: its hunks are what can be chosen.
                last_good = _repropose(executor, last_good, last_good.arguments)
                current = _refused(last_good, exc)
                continue
            except (SlopError, OSError) as exc:
                current = _refused(last_good, exc)
                continue
            if args is last_good.arguments:  # every hunk chosen: the proposal as it is
                return Approve(), last_good
            return decision, _repropose(executor, last_good, args)
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
            current = _refused(last_good, exc)
            continue
        last_good = current = _repropose(executor, last_good, args)


class _Stale(HunksRefused):
    """The file changed under a proposal between its diff and the choice of hunks."""


def _normalised(decision: Decision, proposal: Proposal) -> Decision:
    """An unchanged `Edit` is an approval (Ctrl+S of an untouched payload); no hunk chosen is a
    rejection of the whole change."""
    if isinstance(decision, Edit) and decision.arguments == proposal.arguments:
        return Approve()
    if isinstance(decision, ApproveHunks) and not decision.hunks:
        return Reject(reason=decision.reason.strip() or "no hunk of the change was chosen")
    return decision


def _refused(last_good: Proposal, exc: BaseException) -> Proposal:
    note = f"edit refused: {describe_error(exc)}"
    if last_good.error:
        note += f"\n{last_good.error}"
    return msgspec.structs.replace(last_good, error=note)


def _repropose(executor: ToolExecutor, last_good: Proposal, args: ToolArgs) -> Proposal:
    fresh = executor.propose(last_good.ticket_id, args)
    return msgspec.structs.replace(fresh, context=last_good.context)


def _chosen_hunks(executor: ToolExecutor, proposal: Proposal, decision: ApproveHunks) -> ToolArgs:
    """The arguments that apply exactly `decision.hunks` of `proposal`'s diff (the proposal's
    own arguments when that is every hunk); `SlopError` when that cannot be done."""
    if proposal.error:
        raise HunksRefused(f"this {proposal.tool} cannot apply as is")
    rel, before, after = executor.texts(proposal.arguments)
    if unified_diff(rel, before, after) != proposal.diff:
        # The person chose among hunks they saw; a file changed since has other hunks.
        raise _Stale(f"{rel} changed since this diff was made; here is its diff now")
    base = before if before is not None else ""
    count = hunk_count(base, after)
    text = apply_hunks(base, after, decision.hunks)  # refuses an index out of range
    if set(decision.hunks) == set(range(count)):
        return proposal.arguments
    args = args_for_text(proposal.arguments, before, text)
    executor.validate(args)
    return args
