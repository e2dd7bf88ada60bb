"""The `infra` command line: typer commands that parse, call one library function, and render.

Each module here registers its commands on the one `app`; no logic lives in a command function.
"""

from infra.cli.app import app, main

# Importing the command modules registers their commands on `app`.
from infra.cli import (config_commands, engine_commands, fleet_commands, image_commands,  # noqa: E402,F401
                       sandbox_commands, seed_commands, state_commands)
from infra.cli import services_commands  # noqa: E402,F401

__all__ = ["app", "main"]
