"""Behaviours pinned because a mutation of the core code survived every other test."""

from __future__ import annotations
