"""SalesKG for agents: an MCP server (``skg mcp``) over the same services, keys, scopes and
visibility as the HTTP API. ``tools`` holds what each tool does for a caller; ``server``
wires it to the official ``mcp`` SDK over stdio and streamable HTTP."""
