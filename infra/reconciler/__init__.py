"""The reconcile engine: desired graph, pure planner, executor, drift, rendering."""
