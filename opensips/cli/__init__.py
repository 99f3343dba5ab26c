"""Command-line tools: ``opensips-mi`` (one MI command) and ``opensips-event`` (print notifications)."""
