"""Where agents already live: OHM inside other frameworks (each needs its optional extra)."""
