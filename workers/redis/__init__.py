"""Redis as telequeue uses it: the connection (plain or through Sentinel), URL handling, key names."""
