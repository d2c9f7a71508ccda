"""Global rate limits per vendor account (the limiter) and the deferred set of chunks waiting for their slot."""
