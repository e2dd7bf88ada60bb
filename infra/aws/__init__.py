"""AWS sessions: clients, credentials, an assumed role, the request rate limit, retries and errors.

Both the AWS providers and the state's S3 backend reach AWS through this layer; it knows nothing of
what infra makes there."""
