"""An agency's side of push delivery: a simulator to rehearse against."""
