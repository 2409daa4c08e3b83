"""The only part of OHM that opens connections to PostgreSQL."""
