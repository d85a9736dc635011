"""dockuni.syntax: Dockerfile text -> AST, exactly as BuildKit's parser builds it.

    from transpile.syntax import parse_text, parse_path
"""

from transpile.syntax.loader import MAX_FILE_BYTES, parse_path
from transpile.syntax.parser import parse_text

__all__ = ["MAX_FILE_BYTES", "parse_path", "parse_text"]
