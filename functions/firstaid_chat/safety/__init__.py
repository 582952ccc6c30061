"""Safety checks that lead every reply, in both modes: language, emergencies, lead texts.

`detect.assess(message)` identifies the message's language and the kinds of
life threat it signals; `lead` renders, in that language, the line that puts
calling the emergency number first, and the other fixed texts a reply may
need (no match, offline notice, "steps in English"). Everything a speaker of
a language needs to review lives in `lang/<code>/` as data.

Nothing is loaded at import time: data files are read and patterns compiled
on first use, then kept for the life of the instance. The package re-exports
nothing, so importing it stays cheap.
"""
