"""The MCP edge: Streamable HTTP at `/mcp` over the same services and credentials as REST."""
