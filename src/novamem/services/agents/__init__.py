"""What agents are told (instructions, tool texts) and whether they see the current version."""
