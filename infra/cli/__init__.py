"""The `infra` command line: typer commands that parse, call one library function, and render.

Each module here registers its commands on the one `app`; no logic lives in a command function.
`infra --help` lists the commands in the order these modules are imported.
"""

from infra.cli.app import app, main

# Importing the command modules registers their commands on `app`, in this order (keep it: not sorted).
# isort: off
from infra.cli import config_commands  # noqa: E402,F401  validate, show, schema
from infra.cli import engine_commands  # noqa: E402,F401  plan, apply, drift, graph
from infra.cli import adoption_commands  # noqa: E402,F401  import
from infra.cli import usage_commands  # noqa: E402,F401  usage
from infra.cli import seed_commands  # noqa: E402,F401  role:*, packer:create/run, autoscale:*
from infra.cli import image_commands  # noqa: E402,F401  packer:clean, packer:delete
from infra.cli import fleet_commands  # noqa: E402,F401  instance:*
from infra.cli import rollout_commands  # noqa: E402,F401  rollout status|promote|abort
from infra.cli import services_commands  # noqa: E402,F401  services:*
from infra.cli import sandbox_commands  # noqa: E402,F401  sandbox start|stop|status
from infra.cli import state_commands  # noqa: E402,F401  state list|show|rm|unlock|pull|push
from infra.cli import environment_commands  # noqa: E402,F401  env list
from infra.cli import completion_commands  # noqa: E402,F401  completion bash|zsh|fish
# isort: on

__all__ = ["app", "main"]
