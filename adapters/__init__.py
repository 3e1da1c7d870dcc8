"""Adapters to the national partner systems; none of them imports `gateway`."""
