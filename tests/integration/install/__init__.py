"""Installation tests: the shell installer against a real control plane, the ECS template and task
definition against cfn-lint and a moto server, and the Dockerfiles (structure only: no Docker engine)."""
