"""motcua-gateway: postal-integration and non-geographic intake gateway for Vietnam's one-stop system."""

__version__ = "0.1.0"
