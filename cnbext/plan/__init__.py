"""Plans: the pure, printable description of what a command will build and publish.

`model` holds the plan types (with typed builder details); `facts` the one value of image
facts every planner takes; one planner per command (`extend`, `extend_builder`,
`create_builder`) turns a validated config, checked options and those facts into a `Plan`.
Planners do no I/O. May import: `cnbext.cnb`, `cnbext.config` (models only), `cnbext.sources`
(module and lifecycle types), `cnbext.errors`, `cnbext.version`; never the engine (the facts'
models, `facts.BaseImage`, are the plan's own).
"""
