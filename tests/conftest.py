"""Settings for the whole suite."""

from hypothesis import settings

# CI machines are small and shared: judge properties by their results, never by their speed.
settings.register_profile("infra", deadline=None, max_examples=100)
settings.load_profile("infra")
