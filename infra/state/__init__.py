"""State: what infra last applied, where it lives, and who holds the lock."""

from infra.state.model import ResourceState, State

__all__ = ["ResourceState", "State"]
