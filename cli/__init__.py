"""``warren``: the operator command line (broker setup, dead letters, outbox, topology drift, demo)."""
