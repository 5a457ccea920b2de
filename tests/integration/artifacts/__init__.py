"""Integration tests of the artifact sources against fake product servers on loopback."""
