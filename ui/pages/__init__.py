"""One package per page; a page owns its panels. Only ui/main.py imports these."""
