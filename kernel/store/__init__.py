"""The store: Piccolo tables on SQLite, their migrations, and the row/Struct mapping.

Only the kernel's services import from here; plugins and the web never do.
"""
