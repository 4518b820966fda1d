"""CDS Hooks 2.0 service for the approach to soft tissue calcifications in the foot."""

__version__ = "0.1.0"
