"""The ISA-18.2 / IEC 62682 alarm state machine, as plain functions of an :class:`AlarmRecord`.

States (:data:`~copilot.protocol.AlarmState`) and transitions:

* Normal → Unack when the condition appears (a new occurrence starts).
* Unack → Ack on acknowledgement; Unack → RTN-Unack when the condition clears first.
* Ack → Normal when the condition clears (the occurrence ends).
* RTN-Unack → Normal on acknowledgement; RTN-Unack → Unack if the condition recurs (the old
  occurrence ends and a new one starts, so a recurring alarm counts each time).
* Latched alarms stay Unack/Ack (``latched`` set) after they clear, until someone resets them;
  a reset needs the condition gone and acknowledges as well.
* Shelving (timed, with a maximum, or one-shot: until the alarm clears), suppression by design
  and out-of-service can be entered from any state; the condition keeps being evaluated and
  journaled underneath. On leaving, the live condition decides: a manual unshelve of an active
  alarm leaves it Acknowledged, an expired shelf or a restore from service Unacknowledged; an
  alarm whose condition is gone is Normal.

Every function records what it did as :class:`~copilot.alarms.model.Change` values and returns
them; refusals raise :class:`RefusedError` with one sentence for the person who asked.
"""

from __future__ import annotations

from collections.abc import Callable

from copilot.alarms.model import AlarmRecord, Change, EventName
from copilot.protocol import Claim, Shelf

NextOccurrence = Callable[[], int]


class RefusedError(Exception):
    """An act that does not apply to the alarm now; the message says why, for people."""


def _close(rec: AlarmRecord) -> int:
    """End the open occurrence; its number (0 if none was open)."""
    old = rec.occurrence
    rec.occurrence = 0
    rec.occurrence_suppressed = False
    rec.claim = None
    rec.first_out = False
    rec.latched = False
    rec.state = "normal"
    return old


def _open(rec: AlarmRecord, at: int, value: float | None, new_occurrence: NextOccurrence) -> None:
    rec.occurrence = new_occurrence()
    rec.occurrence_suppressed = rec.hidden
    rec.raised_at = at
    rec.cleared_at = 0
    rec.acked_at = 0
    rec.acked_by = ""
    rec.note = ""
    rec.value = value
    rec.state = "unack"


def _change(
    rec: AlarmRecord,
    event: EventName,
    at: int,
    *,
    who: str = "",
    note: str = "",
    opened: bool = False,
    closed: int = 0,
) -> Change:
    rec.updated = max(rec.updated + 1, at)
    return Change(
        rec,
        event,
        at,
        who=who,
        note=note,
        opened=opened,
        closed=closed,
        occurrence=rec.occurrence if opened or not closed else closed,
        state=rec.state,
        value=rec.value,
        first_out=rec.first_out,
        suppressed=rec.occurrence_suppressed,
        shelved=rec.shelf is not None,
    )


def condition(
    rec: AlarmRecord, active: bool, at: int, value: float | None, new_occurrence: NextOccurrence
) -> list[Change]:
    """The condition (after its delays) became ``active`` or went away at ``at``."""
    if active == rec.active:
        return []
    rec.active = active
    if active:
        rec.value = value
        if rec.state == "normal":
            _open(rec, at, value, new_occurrence)
            return [_change(rec, "raised", at, opened=True)]
        if rec.state == "rtn_unack":
            old = _close(rec)
            _open(rec, at, value, new_occurrence)
            return [_change(rec, "raised", at, opened=True, closed=old)]
        rec.latched = False  # a latched alarm's condition came back before its reset
        rec.cleared_at = 0
        return [_change(rec, "raised", at)]
    rec.cleared_at = at
    out: list[Change] = []
    if rec.shelf is not None and rec.shelf.oneshot:
        rec.shelf = None
        out.append(_change(rec, "unshelved", at, who="", note="one-shot shelf ended: cleared"))
    if rec.definition.latched and rec.state in ("unack", "ack"):
        rec.latched = True
        out.append(_change(rec, "cleared", at))
    elif rec.state == "unack":
        rec.state = "rtn_unack"
        out.append(_change(rec, "cleared", at))
    elif rec.state == "ack":
        old = _close(rec)
        out.append(_change(rec, "cleared", at, closed=old))
    return out


def acknowledge(rec: AlarmRecord, who: str, note: str, at: int) -> list[Change]:
    """Someone acknowledged the alarm (with an optional note)."""
    if rec.state == "unack":
        rec.state = "ack"
        rec.acked_at, rec.acked_by = at, who
        if note:
            rec.note = note
        return [_change(rec, "acked", at, who=who, note=note)]
    if rec.state == "rtn_unack":
        rec.acked_at, rec.acked_by = at, who
        if note:
            rec.note = note
        old = _close(rec)
        return [_change(rec, "acked", at, who=who, note=note, closed=old)]
    if rec.state == "ack":
        raise RefusedError(f"{rec.id} is already acknowledged (by {rec.acked_by or 'someone'}).")
    raise RefusedError(f"{rec.id} is not in alarm; there is nothing to acknowledge.")


def reset(rec: AlarmRecord, who: str, at: int) -> list[Change]:
    """Reset a latched alarm whose condition is gone (acknowledging it too)."""
    if not rec.latched:
        raise RefusedError(f"{rec.id} is not latched; only a latched alarm needs a reset.")
    if rec.active:
        raise RefusedError(f"{rec.id} cannot be reset while its condition is still present.")
    if not rec.acked_at:
        rec.acked_at, rec.acked_by = at, who
    old = _close(rec)
    return [_change(rec, "reset", at, who=who, closed=old)]


def shelve(
    rec: AlarmRecord, who: str, reason: str, at: int, until: int, oneshot: bool
) -> list[Change]:
    """Shelve the alarm until ``until`` (ns) or, ``oneshot``, until it clears."""
    if not reason.strip():
        raise RefusedError("Say why the alarm is shelved (a reason is required).")
    if rec.removed is not None:
        raise RefusedError(f"{rec.id} is out of service; restore it before shelving it.")
    if oneshot and not rec.active:
        raise RefusedError(
            f"{rec.id} is not active; a one-shot shelf lasts until an active alarm clears."
        )
    rec.shelf = Shelf(by=who, at=at, reason=reason, until=0 if oneshot else until, oneshot=oneshot)
    return [_change(rec, "shelved", at, who=who, note=reason)]


def _by_live_condition(rec: AlarmRecord, acknowledged_by: str, at: int) -> int:
    """After a shelf or out-of-service ends: the state the live condition says; closed occ."""
    if rec.active:
        if acknowledged_by:
            if rec.state != "ack":
                rec.acked_at, rec.acked_by = at, acknowledged_by
            rec.state = "ack"
        else:
            rec.state = "unack"
        return 0
    if rec.latched:
        return 0
    return _close(rec) if rec.state != "normal" or rec.occurrence else 0


def unshelve(rec: AlarmRecord, who: str, at: int, *, expired: bool = False) -> list[Change]:
    """End a shelf: by hand (active → Acknowledged) or by its timer (active → Unack)."""
    if rec.shelf is None:
        raise RefusedError(f"{rec.id} is not shelved.")
    rec.shelf = None
    closed = _by_live_condition(rec, "" if expired else who, at)
    event: EventName = "shelf_expired" if expired else "unshelved"
    return [_change(rec, event, at, who=who, closed=closed)]


def remove(rec: AlarmRecord, who: str, reason: str, at: int) -> list[Change]:
    """Take the alarm out of service (an engineer's act; reason required)."""
    if not reason.strip():
        raise RefusedError("Say why the alarm is taken out of service (a reason is required).")
    if rec.removed is not None:
        raise RefusedError(f"{rec.id} is already out of service (by {rec.removed.by}).")
    rec.removed = Shelf(by=who, at=at, reason=reason)
    rec.shelf = None
    return [_change(rec, "removed", at, who=who, note=reason)]


def restore(rec: AlarmRecord, who: str, at: int) -> list[Change]:
    """Return the alarm to service; the live condition decides its state (active → Unack)."""
    if rec.removed is None:
        raise RefusedError(f"{rec.id} is in service.")
    rec.removed = None
    closed = _by_live_condition(rec, "", at)
    return [_change(rec, "restored", at, who=who, closed=closed)]


def suppress(rec: AlarmRecord, suppressed: bool, at: int, hold_until: int) -> list[Change]:
    """The machine's mode suppresses the alarm by design, or stops doing so.

    Leaving suppression ends an occurrence raised under it and makes the condition hold until
    ``hold_until`` (the alarm's own on-delay, or the mode's settling time) before it is raised
    as a live alarm: a machine that starts up is not an alarm for being slow on its first
    seconds.
    """
    if suppressed == rec.suppressed:
        return []
    rec.suppressed = suppressed
    if suppressed:
        return [_change(rec, "suppressed", at)]
    closed = 0
    if rec.occurrence and (rec.occurrence_suppressed or not rec.active):
        closed = _close(rec) if not rec.latched else 0
        if closed:
            rec.active = False
            rec.hold_until = hold_until
    return [_change(rec, "unsuppressed", at, closed=closed)]


def claim(rec: AlarmRecord, who: str, at: int) -> list[Change]:
    """Take ownership ("I'm on it"): ``who`` is on an alarm that is not normal."""
    if rec.state == "normal" and not rec.latched:
        raise RefusedError(f"{rec.id} is not in alarm; there is nothing to claim.")
    rec.claim = Claim(by=who, at=at)
    return [_change(rec, "claimed", at, who=who)]


def unclaim(rec: AlarmRecord, who: str, at: int) -> list[Change]:
    """Give up ownership."""
    if rec.claim is None:
        raise RefusedError(f"Nobody has claimed {rec.id}.")
    rec.claim = None
    return [_change(rec, "unclaimed", at, who=who)]


def add_note(rec: AlarmRecord, who: str, note: str, at: int) -> list[Change]:
    """A note on the current occurrence."""
    if not note.strip():
        raise RefusedError("The note is empty.")
    if not rec.occurrence:
        raise RefusedError(f"{rec.id} has no current occurrence to note.")
    rec.note = note
    return [_change(rec, "noted", at, who=who, note=note)]
