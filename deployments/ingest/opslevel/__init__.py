"""OpsLevel's custom deploys (seed 004): POST /integrations/deploy/<key>."""
