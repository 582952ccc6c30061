"""Offline first-aid mode: vetted guidance answered without Gemini.

When the model is unavailable, a message is matched to a topic written into
the project (`TopicIndex.best`, through `safety.retrieval.topic_query` for
messages in other languages), and answered from that topic (`compose_reply`),
or honestly told that only first aid is available. Emergency detection and
the texts that lead a reply live in the `safety` package, which every turn
uses in both modes.

Importing the package loads nothing. The word lists the matching uses are data
files here (common_words.txt, stopwords.txt, subject.toml, word_forms.toml),
read and checked by `lexicon` when `text`, `subject` or `retrieval` is first
imported (about 2 ms); `retrieval.default_index()` builds the index over the
packaged topics on first use and keeps it for the life of the instance.
The package re-exports nothing: only the instances that answer offline need it.
"""
