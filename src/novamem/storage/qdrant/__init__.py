"""Qdrant as the vector index (`NOVAMEM_VECTOR_STORE=qdrant`): derived data only, fed from PostgreSQL.

Only this package imports `qdrant_client`; only the container imports this package, and only when the
Qdrant engine is chosen.
"""
