"""Plans: the pure, printable description of what a command will build and publish.

`model` holds the plan types; one planner per command (`extend`, `extend_builder`,
`create_builder`) turns a validated config, options and image facts into a `Plan`. Planners do
no I/O. May import: `cnbext.cnb`, `cnbext.config` (models only), `cnbext.engine.models`
(fact types), `cnbext.sources` (module and lifecycle types), `cnbext.errors`.
"""
