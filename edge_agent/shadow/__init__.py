"""Shadow mode: a candidate model runs beside the active one on a sample of frames, and
only agreement figures (never an image) go out with the heartbeat."""
