"""Loss lab: copies of an image scored by several losses (page.py)."""
