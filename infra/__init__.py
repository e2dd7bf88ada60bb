"""infra: run a fleet of EC2 node groups from one nodes.json, the way Terraform runs infrastructure."""

__version__ = "0.1.0"
