"""How a dead worker's work comes back within seconds: heartbeats, liveness, the index of unacked messages."""
