"""What the detectors learned, as msgpack (msgspec): the blob that survives a hub restart.

:func:`dump` turns one :class:`~copilot.anomaly.machine.MachineDetectors` into a
:class:`MachineState` (its BIRTH, its per-mode learned arrays by tag name, its PCA models);
:func:`load_into` copies a saved state into freshly built detectors, tag by tag, for every tag
of the same name and type and every mode of the same name — so a rebirth with a tag more or
less keeps what the others learned. No pickle: arrays travel as dtype, shape and bytes.
"""

from __future__ import annotations

import msgspec
import numpy as np

from copilot.anomaly.machine import MachineDetectors
from copilot.anomaly.multivariate import MvModel
from copilot.anomaly.signals import LEARNED_FIELDS, LIVE_FIELDS
from copilot.protocol.messages import Birth

__all__ = ["VERSION", "ArrayBlob", "EngineState", "MachineState", "dump", "load_into"]

VERSION = 1


class ArrayBlob(msgspec.Struct, array_like=True):
    """A numpy array: dtype string, shape, raw bytes."""

    dtype: str
    shape: list[int]
    data: bytes

    @classmethod
    def of(cls, a: np.ndarray) -> ArrayBlob:
        """Wrap ``a``."""
        c = np.ascontiguousarray(a)
        return cls(c.dtype.str, list(c.shape), c.tobytes())

    def array(self) -> np.ndarray:
        """The array back (a writable copy)."""
        return np.frombuffer(self.data, dtype=np.dtype(self.dtype)).reshape(self.shape).copy()


class MachineState(msgspec.Struct):
    """One machine's learned state."""

    birth: Birth
    learned: dict[str, ArrayBlob]
    live: dict[str, ArrayBlob]
    modes_learned_s: list[float]
    mv_models: list[MvModel | None]
    mv_hist: ArrayBlob
    mv_thr: ArrayBlob
    mv_feedback: list[float]
    alerts_raised: dict[str, int]
    last_t: int
    mode: int
    relax_change_t: int = 0
    mode_since: int = 0
    settle_until: int = 0
    relax_stage: int = 10_000  # past every sample: nothing to fit


class EngineState(msgspec.Struct):
    """Everything the engine learned."""

    version: int
    machines: list[MachineState]


class EncodedState(msgspec.Struct):
    """An :class:`EngineState` whose machines are already encoded (the same bytes once encoded).

    Encoding it only copies each machine's bytes, so a save can be assembled on a writer
    thread in a few milliseconds of interpreter time however large the plant.
    """

    version: int
    machines: list[msgspec.Raw]


def dump(md: MachineDetectors) -> MachineState:
    """Snapshot what ``md`` learned."""
    sig = md.signals
    return MachineState(
        birth=md.birth,
        learned={f: ArrayBlob.of(getattr(sig, f)) for f in LEARNED_FIELDS},
        live={f: ArrayBlob.of(getattr(sig, f)) for f in LIVE_FIELDS},
        modes_learned_s=md.learned_s.tolist(),
        mv_models=list(md.mv.models),
        mv_hist=ArrayBlob.of(md.mv.hist),
        mv_thr=ArrayBlob.of(md.mv.thr),
        mv_feedback=md.mv.feedback.tolist(),
        alerts_raised=dict(md.alerts_raised),
        last_t=md.last_t,
        mode=md.mode,
        relax_change_t=md.signals.relax_change_t,
        mode_since=md.mode_since,
        settle_until=md.settle_until,
        relax_stage=md.signals.relax_stage,
    )


def load_into(md: MachineDetectors, st: MachineState) -> None:
    """Copy what ``st`` learned into ``md`` for matching tags and modes."""
    old_tags = {t.name: t for t in st.birth.tags}
    old_names = [t.name for t in st.birth.tags if t.name in old_tags]
    old_analog = [t.name for t in st.birth.tags if t.type == "float" and _is_slot(st, t.name)]
    old_modes = _modes(st.birth)
    pairs = [
        (md.names.index(n), old_analog.index(n))
        for n in md.names
        if n in old_analog and old_tags[n].type == md.tags[md.names.index(n)].type
    ]
    mode_pairs = [(md.modes.index(m), old_modes.index(m)) for m in md.modes if m in old_modes]
    del old_names
    if not pairs or not mode_pairs:
        return
    new_i = np.array([p[0] for p in pairs])
    old_i = np.array([p[1] for p in pairs])
    new_m = np.array([p[0] for p in mode_pairs])
    old_m = np.array([p[1] for p in mode_pairs])
    sig = md.signals
    for f in LEARNED_FIELDS:
        if f not in st.learned:  # a blob from before this field: keep what was built
            continue
        src = st.learned[f].array()
        dst = getattr(sig, f)
        if dst.ndim == 2:  # (modes, n)
            dst[np.ix_(new_m, new_i)] = src[np.ix_(old_m, old_i)]
        elif dst.ndim == 3:  # (modes, D, n); a blob from before a detector was added has fewer
            det = np.arange(min(src.shape[1], dst.shape[1]))[None, :, None]
            dst[new_m[:, None, None], det, new_i] = src[old_m[:, None, None], det, old_i]
        else:  # (modes, D, n, bins)
            d = min(src.shape[1], dst.shape[1])
            for a, b in zip(new_m, old_m, strict=True):
                dst[a][:d, new_i] = src[b][:d, old_i]
    for f in LIVE_FIELDS:
        if f not in st.live:
            continue
        src = st.live[f].array()
        dst = getattr(sig, f)
        if src.shape[1:] != dst.shape[1:]:
            continue
        dst[new_i] = src[old_i]
    for a, b in zip(new_m, old_m, strict=True):
        md.learned_s[a] = st.modes_learned_s[b]
        md.learned[a] = st.modes_learned_s[b] >= md.cfg.warmup_s
    same_features = [md.names[i] for i in range(len(md.names))] == old_analog
    if same_features:
        hist, thr = st.mv_hist.array(), st.mv_thr.array()
        for a, b in zip(new_m, old_m, strict=True):
            md.mv.models[a] = st.mv_models[b]
            md.mv.hist[a] = hist[b]
            md.mv.thr[a] = thr[b]
            md.mv.feedback[a] = st.mv_feedback[b]
    md.alerts_raised.update(st.alerts_raised)
    md.last_t = st.last_t
    sig.relax_change_t, sig.relax_stage = st.relax_change_t, st.relax_stage
    md.mode_since, md.settle_until = st.mode_since, st.settle_until
    for a, b in mode_pairs:
        if b == st.mode:
            md.mode = a


def _modes(birth: Birth) -> list[str]:
    for t in birth.tags:
        if t.name == "state" and t.type == "enum" and t.labels:
            return list(t.labels)
    return ["normal"]


def _is_slot(st: MachineState, name: str) -> bool:
    from copilot.anomaly.machine import analog

    return any(t.name == name and analog(t) for t in st.birth.tags)
