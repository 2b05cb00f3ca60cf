"""Rule sets: clustering and per-cluster association rules (`rules`)."""
