"""infra in CI: what the GitHub Action of this repository (action.yml) runs. It drives the `infra`
command line as a user would (a subprocess), and reaches GitHub's REST API with the standard
library alone, so installing infra is all the action needs."""
