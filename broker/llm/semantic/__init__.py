"""The semantic cache of the model path: answers served again for prompts that mean the same,
never across callers and never across prompts that differ in a number, a date, a name, an
identifier or a masked entity (`keys.py`), kept in the database (`store.py`)."""
