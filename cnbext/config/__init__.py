"""Config files: TOML with source positions, JSON Schema validation, typed config models.

Every config file is validated against its schema in `cnbext/schemas/` and every problem is
reported at once as `file:line:col: $.path: message`. May import: `cnbext.errors`, `cnbext.cnb`.
"""
