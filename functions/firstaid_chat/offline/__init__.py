"""Offline first-aid mode: vetted guidance answered without Gemini.

When the model is unavailable, a message is checked for signs of a life threat
(`signals_life_threat`), matched to a topic written into the project
(`TopicIndex.best`), and answered from that topic (`compose_reply`), or
honestly told that only first aid is available (`no_match_reply`).

Nothing is loaded at import time; `retrieval.default_index()` builds the index
over the packaged topics on first use and keeps it for the life of the instance.
The package re-exports nothing: every instance imports `emergency` for each
turn, and only the instances that answer offline need the rest.
"""

