"""The autonomy report: how much the gate decided on its own, what it held, what people overrode."""
