"""The gate's HTTP API, one router module per resource."""
