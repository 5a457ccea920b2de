"""Artifact sources, one module per product, all running on the delegate (credentials stay in the VPC)."""
