"""FalkorDB as a derived graph index: one graph per tenant, fed from PostgreSQL through the index outbox,
read for neighbour walks and the graph signal. Only `novamem.container` picks this engine.
"""
