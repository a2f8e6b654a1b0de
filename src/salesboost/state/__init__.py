"""Runtime state shared by every replica, on Redis (`SALESBOOST_REDIS_URL`).

The runtime (`tools/`) declares what it needs of each kind of state and keeps the in-process implementation
beside it; this package holds the Redis implementations, which the composition root picks once at start-up,
and the bandit's statistics store of either kind (`bandit.py`).
"""
