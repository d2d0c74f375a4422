"""Show the package code a chapter is about to use, right before it uses it.

A chapter that calls ``homl_cv`` code it teaches shows that code first::

    >>> from homl_cv.listing import show_source
    >>> from homl_cv import claims
    >>> listing = show_source(claims.claim)
    >>> listing.text.splitlines()[0]
    'def claim(name: str, value, at_least=None, at_most=None, near=None, tol=None,'

In Jupyter the returned :class:`Listing` renders with syntax highlighting
(HTML, inline styles); its plain-text form is the source itself, which is what
nbval compares, so a stored chapter always shows the code the package runs.
"""

from __future__ import annotations

import dataclasses
import html
import ast
import inspect
import re
import textwrap

__all__ = ["Listing", "show_source"]


@dataclasses.dataclass(frozen=True)
class Listing:
    """Source code of one function or class, for display.

    Attributes:
        name: qualified name, e.g. ``"homl_cv.models.ResidualUnit"``.
        text: the source, dedented.
    """

    name: str
    text: str

    def __repr__(self) -> str:  # the text/plain form Jupyter stores
        return f"# {self.name}\n{self.text}"

    def _repr_html_(self) -> str:  # Jupyter's display protocol
        return self.html()

    def html(self) -> str:
        """The listing as highlighted HTML (inline styles, no CSS needed)."""
        try:  # pygments ships with IPython/Jupyter; plain <pre> otherwise
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer
        except ImportError:
            return f"<pre><code># {html.escape(self.name)}\n{html.escape(self.text)}</code></pre>"
        body = highlight(f"# {self.name}\n{self.text}", PythonLexer(),
                         HtmlFormatter(noclasses=True, nobackground=True))
        return f'<div style="font-size:85%">{body}</div>'


# mutmut's markers (tests/mutmut_run.py): tooling, not part of the lesson, so listings leave them out
_PRAGMA = re.compile(r"[ \t]*# pragma: no mutate(?: block)?[ \t]*$", re.MULTILINE)


def show_source(obj, skip_docstring: bool = False) -> Listing:
    """The source of a function, class or method, ready to display.

    Args:
        obj: a function, class or method defined in Python source.
        skip_docstring: drop the docstring (long docstrings hide short code).
            Comments that only steer the mutation tool (``# pragma: no
            mutate``) are always left out.

    Returns:
        A :class:`Listing`; make it the last expression of a cell to show it.

    Raises:
        TypeError: ``obj`` has no Python source (a builtin, a number...).
    """
    try:
        source = inspect.getsource(obj)
    except (TypeError, OSError):
        raise TypeError(
            f"show_source: obj={obj!r} has no Python source to show; pass a function, "
            "class or method defined in a .py file."
        ) from None
    source = textwrap.dedent(_PRAGMA.sub("", source))
    if skip_docstring:
        source = _drop_docstring(source)
    module = getattr(obj, "__module__", "") or ""
    qualname = getattr(obj, "__qualname__", getattr(obj, "__name__", "?"))
    return Listing(f"{module}.{qualname}".lstrip("."), source.rstrip() + "\n")


def _drop_docstring(source: str) -> str:
    """``source`` (one dedented def or class) without its docstring's lines.

    Works on the syntax tree, not on ``obj.__doc__``: Python 3.13 dedents
    ``__doc__`` at compile time, so the text of ``__doc__`` no longer appears
    in the source, while the docstring's line numbers are the same on every
    version.
    """
    tree = ast.parse(source)
    node = tree.body[0] if tree.body else None
    body = getattr(node, "body", None)
    if not body or not isinstance(body[0], ast.Expr) or not isinstance(
            getattr(body[0], "value", None), ast.Constant) or not isinstance(body[0].value.value, str):
        return source
    lines = source.splitlines(keepends=True)
    first, last = body[0].lineno - 1, body[0].end_lineno  # 0-based start, exclusive end
    return "".join(lines[:first] + lines[last:])
