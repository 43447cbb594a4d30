"""Projects: the shared access boundary and its members."""
