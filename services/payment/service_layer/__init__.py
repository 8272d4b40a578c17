"""Use cases: one short function per command or event, each in its own unit of work."""
