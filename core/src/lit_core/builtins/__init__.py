"""lit-core's built-in plugins: registered through lit-core's own entry points or by the Trainer."""
