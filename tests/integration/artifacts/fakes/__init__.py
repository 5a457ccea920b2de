"""Fake Jenkins, Artifactory, Nexus and file servers speaking each product's REST API over loopback."""
