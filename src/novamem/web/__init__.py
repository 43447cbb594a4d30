"""The dashboard at /admin: server-rendered pages over the same services as REST and MCP (see `edge.py`)."""

from __future__ import annotations

from novamem.web.edge import DashboardEdge

__all__ = ["DashboardEdge"]
