"""Pure hardware logic: document shapes, diffs, electrical checks, exports. No I/O, no imports of other rooms."""
