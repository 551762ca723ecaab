"""Reading an operator argument that Jinja rendered into text.

Without ``render_template_as_native_obj``, a templated list or dict (``"{{ ti.xcom_pull(...) }}"``)
reaches ``execute`` as text: JSON when the value was dumped as JSON, else Python's ``repr``.
"""

from __future__ import annotations

import ast
import json
from typing import Any


def parse_rendered(text: str | bytes | bytearray) -> Any:
    """The value ``text`` holds, read as JSON, else as a Python literal (the ``repr`` form).

    :raises ValueError: it is neither, with the JSON parser's message.
    """
    try:
        return json.loads(text)
    except ValueError as json_error:
        if not isinstance(text, str):
            raise ValueError(str(json_error)) from None
        try:
            return ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise ValueError(str(json_error)) from None
