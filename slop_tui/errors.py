"""The one base class for errors a user can act on.

Every layer raises a subclass of `SlopError` for bad input or a failed outside call; the command
line prints it as one line (`slop: error: ...`) and exits non-zero, never with a traceback.
Messages name the place (file, line, key, ticket) and never contain a credential.
"""

from __future__ import annotations


class SlopError(Exception):
    """A problem the user can understand and fix."""
