"""VNPost public postal service (BCCI): item numbers now; orders, tracking and the simulator to come."""
