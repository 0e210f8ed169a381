"""Speech: audio -> Simplified Chinese text. Needs nothing from the other packages but errors."""
