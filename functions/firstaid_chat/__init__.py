"""A first-aid chat service: Gemini replies, conversations kept in Firestore or SQLite."""
