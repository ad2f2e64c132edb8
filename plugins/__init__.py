"""The built-in plugins. Each registers through the same public hooks and kernel API
(:mod:`outreach.kernel`) that a third-party plugin uses."""
