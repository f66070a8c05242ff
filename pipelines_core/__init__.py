"""The orchestrator-free core: Spark steps, data generator, pipeline spec, run ledger, fault
injection, Spark session provider, direct runner, and the toolkits every layer shares
(processes, HTTP, the service-command frame, configuration).

The core knows nobody: it imports no orchestrator, not the benchmark, no implementation and
not the course kit, at any depth; the layers above import it.
"""
