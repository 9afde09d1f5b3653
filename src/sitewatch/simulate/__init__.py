"""Generated dated image series of a facility on a real background, with ground truth."""
