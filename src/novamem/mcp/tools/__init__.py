"""The MCP tool catalogue, one module per area. Each tool validates its arguments with the REST request
model and calls the same service function as its REST route (one implementation, two doors).

A tool is refused for a caller exactly when its backing REST route would be (`route_refusal` on the
route's method and path), so restricted and read-only tokens are held to the same rules on both doors.
"""

from novamem.mcp.tools.admin import ADMIN_TOOLS
from novamem.mcp.tools.base import ToolSpec
from novamem.mcp.tools.memory import MEMORY_TOOLS
from novamem.mcp.tools.projects import PROJECT_TOOLS

__all__ = ["ADMIN_TOOLS", "MEMORY_TOOLS", "PROJECT_TOOLS", "ToolSpec"]
