"""What the targeted commands do beyond a plain plan and apply: the fleet (one-off instances,
deploys), `infra rollback`, and adoption (`infra import`)."""
