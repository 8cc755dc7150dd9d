"""The use cases behind the CLI and the public API: one module per use case (`extend`,
`extend_builder`, `create_builder`), each: check options once, gather facts once
(`facts.gather_image_facts`; `builder_inputs` adds modules and the lifecycle), plan with the
pure planner, then apply (`publish.apply_plan`: build concurrently, publish in plan order,
report what was published on failure). `usecase` holds what they share (work folder, engine,
dry run, `Result`); `extensions` runs image extensions' detect and generate.

Talks to Docker only through the `cnbext.engine.protocol.Engine` protocol, so unit tests use a
fake engine. May import every other folder but `cnbext.cli`.
"""
