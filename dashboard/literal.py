"""Text from the data shown as text: never as markdown, LaTeX, emoji codes or plotly's HTML.

Dataset and column names, labels, ids, view names, manifest descriptions and every message that
quotes them (errors, link warnings) come from files and links, not from EmbedLens. Streamlit
renders markdown in titles, captions, alerts, metric labels, help tooltips, widget labels, radio /
segmented-control options and image captions (``**b**``, ``[a](url)``, ``$x$``, ``:smile:``,
``:red[x]``); plotly renders its HTML subset in titles, legends, hover labels and tick labels
(``<b>``, ``<br>``, ``<a href>``) and substitutes ``%{...}`` in hover templates. Measured in
Chromium (``tests/browser/test_markup.py``): selectbox and multiselect options, dataframes and
``st.text`` show text as it is. Pure: no Streamlit import (figures use :func:`plot`).
"""

from __future__ import annotations

import html
import re

__all__ = ["md", "plot", "plot_all"]

# What Streamlit's markdown can make of one line of text, and the backslash escape that stops it:
# emphasis and strikethrough (* and ~ anywhere; _ where it can open or close: not inside a word),
# code spans (`), LaTeX ($), links and images ([ when a ]( or ][ follows), HTML tags and
# autolinks (< of <b>, </x>, <!--, <scheme:, <user@: Streamlit shows HTML as its source, but the
# source then keeps our backslashes, and <script> at the start swallows the rest), entities
# (&name;), colour / badge directives (:name[), emoji and icon codes (:name: and :material/name:),
# and a block marker at the start (# heading, > quote, - + list, 1. list). Other characters are
# left alone, so messages read (and compare) as written: "must be one of [5, 10]", "<U1" stay.
_MD_ANYWHERE = re.compile(
    r"[\\`*~$]"                                   # escapes, code, emphasis, strikethrough, LaTeX
    r"|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"          # _ that can open or close emphasis (not dim_0)
    r"|\[(?=.*\][(\[])"                            # [ of a link / image / reference ([5, 10] stays)
    r"|<(?=[A-Za-z/!?][^<>]*>|[A-Za-z][A-Za-z0-9+.\-]{1,31}:|[^\s<>@]+@)"  # < of a tag or an autolink
    r"|&(?=#?\w+;)"                                 # & of an entity (&lt;)
    r"|:(?=[A-Za-z][\w\-]*\[)")                     # : of a directive (:red[...], :blue-badge[...])
_MD_CODES = re.compile(r":([\w+\-/]+):")  # :smile:, :material/home: -- both colons (one is not enough)
_MD_START = re.compile(r"^(\s*)(#|>|[-+](?=\s|$))|^(\s*\d{1,9})([.)])(?=\s|$)")
_NEWLINES = re.compile(r"\r\n|\r|\n")


def md(value) -> str:
    r"""``value`` as text for any Streamlit element that renders markdown, shown as written.

    Characters that can start markdown, LaTeX, emoji or directive syntax get CommonMark's
    backslash escape (see the comment above for which); line breaks become spaces (a label or
    message is one line). Escape only the parts that come from data, not the markup EmbedLens
    adds around them (``f"**{md(name)}**"``). A bare ``http(s)://`` address stays a link
    (GitHub-flavoured markdown links it), with its text unchanged; in ``:material/name:`` an
    invisible word joiner follows the first colon (Streamlit matches icon codes after parsing).

    >>> print(md("**b** [x](javascript:alert(1)) $x$ :smile: dim_0 _x_"))
    \*\*b\*\* \[x](javascript:alert(1)) \$x\$ \:smile\: dim_0 \_x\_
    >>> print(md("one of [5, 10] <U1 <https://x.org> <b>x</b>"))
    one of [5, 10] <U1 \<https://x.org> \<b>x\</b>
    >>> print(md("# not a heading"), md("1. not a list"), md("-1.5 stays"))
    \# not a heading 1\. not a list -1.5 stays
    """
    text = _MD_ANYWHERE.sub(lambda m: "\\" + m.group(0), _NEWLINES.sub(" ", str(value)))
    text = _MD_CODES.sub(lambda m: "\\:" + m.group(1) + "\\:", text)
    # Streamlit finds :material/name: in the text after markdown is parsed, escapes or not: an
    # invisible word joiner (U+2060) after the colon keeps the code from matching
    text = text.replace("\\:material", "\\:\u2060material")
    return _MD_START.sub(lambda m: (m.group(1) + "\\" + m.group(2)) if m.group(2) else
                         (m.group(3) + "\\" + m.group(4)), text, count=1)


def plot(value) -> str:
    """``value`` as text for plotly (titles, legend entries, hover text and templates, ticks), shown as written.

    ``&``, ``<`` and ``>`` become entities and ``%`` becomes ``&#37;``: plotly substitutes
    ``%{...}`` in a hover template before it decodes entities, so a label holding ``%{x}`` is
    not filled in, and ``<b>`` / ``<br>`` / ``<a href>`` are not tags.

    >>> plot("<b>5%{x}</b>")
    '&lt;b&gt;5&#37;{x}&lt;/b&gt;'
    """
    return html.escape(str(value), quote=False).replace("%", "&#37;")


def plot_all(values):
    """:func:`plot` of each value (an array or list of labels, e.g. hover texts); None stays None."""
    if values is None:
        return None
    import numpy as np

    return np.array([plot(v) for v in values], dtype=object)
