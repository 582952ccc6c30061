"""Offline first-aid mode: vetted guidance answered without Gemini.

When the model is unavailable, a message is checked for signs of a life threat
(`signals_life_threat`), matched to a topic written into the project
(`TopicIndex.best`), and answered from that topic (`compose_reply`), or
honestly told that only first aid is available (`no_match_reply`).

Nothing is loaded at import time; `default_index()` builds the index over the
packaged topics on first use and keeps it for the life of the instance.
"""

from __future__ import annotations

from .compose import compose_reply, no_match_reply
from .emergency import emergency_preamble, signals_life_threat
from .knowledge import Topic, load_topics
from .retrieval import Match, TopicIndex, default_index

__all__ = [
    "Match",
    "Topic",
    "TopicIndex",
    "compose_reply",
    "default_index",
    "emergency_preamble",
    "load_topics",
    "no_match_reply",
    "signals_life_threat",
]
