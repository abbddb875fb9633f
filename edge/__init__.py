"""The composition root: configuration, daemon lifecycle, event journal, rules, API, panel, CLI."""
