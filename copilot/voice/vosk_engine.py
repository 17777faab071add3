"""The vosk recognizer: any vosk model folder, bound to the grammar's phrase list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from copilot.voice.templates import Templates
from copilot.voice.types import Context, Heard, VoiceSetupError


class VoskListener:
    """Placeholder until the vosk engine lands: says so in one sentence."""

    def __init__(self, templates: Templates, model_dir: Path | None = None) -> None:
        self.templates = templates
        self.model_dir = model_dir
        raise VoiceSetupError("the vosk engine is not available in this build yet.")

    def hear(self, pcm: npt.NDArray[np.int16], context: Context) -> Heard:
        """Not reached: construction fails."""
        raise VoiceSetupError("the vosk engine is not available in this build yet.")
