"""The worker: a supervisor that owns the queue, the store and the clock, and a child that owns the
pipeline. They speak the typed events of `events.py` over a pipe."""
