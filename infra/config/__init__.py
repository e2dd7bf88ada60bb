"""nodes.json -> validated, merged node groups."""

from infra.config.loader import DEFAULT_CONFIG_FILE, Config, load_config, parse_config
from infra.config.models import Autoscale, Group

__all__ = ["DEFAULT_CONFIG_FILE", "Autoscale", "Config", "Group", "load_config", "parse_config"]
