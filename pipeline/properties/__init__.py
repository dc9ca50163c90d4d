"""The property sets: the paper's 29 (`paper.py`, their rules in `paper_rules.py`), the style
properties counted from the texts (`style.py`), the sets (`sets.py`), and custom properties rated by
an LLM (`custom/`)."""
