"""The one exception type users see: its message is printed as a single line by the CLI."""


class ScorehouseError(Exception):
    """A problem with the user's input, project or warehouse, stated in one line."""
