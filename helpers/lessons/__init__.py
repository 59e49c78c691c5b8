"""One package per lesson: the notebook's one import, a map of its sections."""
