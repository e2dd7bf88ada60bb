"""Fleet commands: one-off instances (instance:create) and deploys (instance:deploy)."""
