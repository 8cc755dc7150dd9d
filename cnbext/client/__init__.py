"""The use cases: gather facts once, run extensions, plan, then apply plans in order.

The client is what the CLI and scripts call. It owns the order of work and what is promised on
failure (which names were published). May import every other folder but `cnbext.cli`.
"""
