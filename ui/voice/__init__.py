"""Voice widgets: push-to-talk, the level meter, the dialogue's bar (shows copilot.voice)."""

from ui.voice.flow import QtVoice, make_flow, microphone
from ui.voice.panel import QtLevelMeter, QtTalkButton, QtVoiceBar

__all__ = ["QtLevelMeter", "QtTalkButton", "QtVoice", "QtVoiceBar", "make_flow", "microphone"]
