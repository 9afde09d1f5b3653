"""Alert policy (transitions, dedupe, cooldown, lifecycle) and the sinks alerts go to."""
