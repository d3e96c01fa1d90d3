"""AuroraView."""
