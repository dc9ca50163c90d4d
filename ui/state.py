"""Selections that live in the URL (st.query_params), so a view can be shared as a link.

Each helper draws one widget whose value starts from the URL parameter (when it is a
valid choice), else from its last value in this session (Streamlit forgets widget state
when the user switches pages; coming back restores the selection), else from a default,
and writes the value back to the URL after every run. The widget is driven through st.session_state[key] only (no index/default
argument), so buttons and callbacks can move it too (prev/next pair).

History: Streamlit's browser side pushes a history entry for every change of the query string
(one per `st.query_params[...] =`), so each page left about five entries and Back seemed to do
nothing. `install_history()` (run by ui/navigation.py on every page) makes a query-string change
on the same page *replace* the current entry; a page switch still adds one. So Back returns to
the previous page, whose entry holds that page's last selections. Runs write only the
parameters that changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

_EMPTY = ""  # URL value that stands for an empty selection


def _url_all(name: str) -> list[str]:
    try:
        return list(st.query_params.get_all(name))
    except Exception:  # pragma: no cover - defensive: malformed query string
        return []


_SHADOW = "_ui.keep."  # last value of each bound widget, to restore it when coming back to its page


def _write(name: str, value) -> None:
    """Put the value in the URL, only when it changed (each write is a message to the browser)."""
    if value is None:
        if name in st.query_params:
            del st.query_params[name]
        return
    if isinstance(value, (list, tuple)):
        new = [str(v) for v in value] if value else [_EMPTY]
    else:
        new = [str(value)]
    if _url_all(name) != new:
        st.query_params[name] = new if len(new) > 1 else new[0]


def _seed(key: str, default, valid: Callable[[object], bool], parse: Callable[[list[str]], object]) -> None:
    """Start the widget from: its own state, else the URL, else its last value in this session
    (Streamlit drops widget state on a page switch), else the default."""
    if key in st.session_state and valid(st.session_state[key]):
        return
    raw = _url_all(_url_name(key))
    value = None
    if raw:
        try:
            value = parse(raw)
        except (ValueError, TypeError):
            value = None
    if value is None or not valid(value):
        kept = st.session_state.get(_SHADOW + key)
        value = kept if kept is not None and valid(kept) else None
    st.session_state[key] = value if value is not None and valid(value) else default


def _keep(key: str, value) -> None:
    st.session_state[_SHADOW + key] = list(value) if isinstance(value, (list, tuple)) else value


def _url_name(key: str) -> str:
    """Widget keys are 'page.name'; the URL uses 'name'."""
    return key.split(".", 1)[-1]


def select(label: str, options: Sequence, *, key: str, default=None,
           format_func: Callable = str, widget: str = "selectbox", **kwargs):
    """A selectbox (or radio / segmented control) bound to the URL parameter of its key."""
    options = list(options)
    if not options:
        return None
    if default not in options:
        default = options[0]
    by_text = {str(o): o for o in options}
    _seed(key, default, lambda v: v in options, lambda raw: by_text.get(raw[-1]))
    if widget == "radio":
        value = st.radio(label, options, key=key, format_func=format_func, **kwargs)
    elif widget == "segmented":
        value = st.segmented_control(label, options, key=key, format_func=format_func,
                                     required=True, **kwargs)
    else:
        value = st.selectbox(label, options, key=key, format_func=format_func, **kwargs)
    if value is None:
        value = default
    _write(_url_name(key), value)
    _keep(key, value)
    return value


def multiselect(label: str, options: Sequence, *, key: str, default: Sequence = (),
                format_func: Callable = str, omit_default: bool = False, **kwargs) -> list:
    """A multiselect bound to a repeated URL parameter (?judges=a&judges=b); '' is empty.

    With omit_default, the parameter is left out of the URL while the selection equals the
    default (e.g. all 33 judges), so links stay short; opening such a link gives the default."""
    options = list(options)
    by_text = {str(o): o for o in options}
    default = [d for d in default if d in options]

    def parse(raw: list[str]):
        if raw == [_EMPTY]:
            return []
        vals = [by_text[r] for r in raw if r in by_text]
        return vals or None

    _seed(key, default, lambda v: isinstance(v, list) and all(x in options for x in v), parse)
    value = st.multiselect(label, options, key=key, format_func=format_func, **kwargs)
    if omit_default and len(value) == len(default) and set(value) == set(default):
        _write(_url_name(key), None)
    else:
        _write(_url_name(key), value)
    _keep(key, value)
    return list(value)


def number(label: str, *, key: str, default: int, min_value: int, max_value: int, **kwargs) -> int:
    """An integer input bound to the URL."""
    def valid(v):
        return isinstance(v, int) and min_value <= v <= max_value

    _seed(key, default if valid(default) else min_value, valid, lambda raw: int(raw[-1]))
    value = st.number_input(label, min_value=min_value, max_value=max_value, step=1, key=key, **kwargs)
    value = int(value) if value is not None else default
    _write(_url_name(key), value)
    _keep(key, value)
    return value


URL_MAX_TEXT = 2000  # longer texts stay out of the URL (browsers and proxies cap URL length)


def text(label: str, *, key: str, default: str = "", area: bool = False, max_chars: int = 2000,
         **kwargs) -> str:
    """A text input (or area) bound to the URL (while it is at most URL_MAX_TEXT long)."""
    _seed(key, default, lambda v: isinstance(v, str) and len(v) <= max_chars, lambda raw: raw[-1])
    fn = st.text_area if area else st.text_input
    value = fn(label, key=key, max_chars=max_chars, **kwargs) or ""
    _write(_url_name(key), value if value and len(value) <= URL_MAX_TEXT else None)
    _keep(key, value)
    return value


def toggle(label: str, *, key: str, default: bool = False, **kwargs) -> bool:
    _seed(key, default, lambda v: isinstance(v, bool),
          lambda raw: {"true": True, "1": True, "false": False, "0": False}.get(raw[-1].lower()))
    value = bool(st.toggle(label, key=key, **kwargs))
    _write(_url_name(key), "true" if value else "false")
    _keep(key, value)
    return value


def set_value(key: str, value) -> None:
    """Move a bound widget from a callback (takes effect on this rerun's widget)."""
    st.session_state[key] = value


# Installed once per browser tab. Streamlit pushes a history entry for each query-string change
# (frontend: handlePageInfoChanged); a push that keeps the path (a selection changed on this
# page) becomes a replace. After a click on a link to another page, the new page's parameters
# can arrive before Streamlit moves the URL to the new path: a same-path push then would
# overwrite the old page's entry, so until the path changes such pushes wait (the new page's
# own push carries them; Streamlit builds it from the same query string).
_HISTORY_JS = """<script>
(() => {
  const h = window.history;
  if (h.__prefdissectReplace) return;
  h.__prefdissectReplace = true;
  const push = h.pushState.bind(h);
  let switching = 0;
  let pending = null;
  document.addEventListener("click", (e) => {
    const a = e.target && e.target.closest ? e.target.closest("a[href]") : null;
    if (!a) return;
    try {
      const u = new URL(a.href, window.location.href);
      if (u.origin === window.location.origin && u.pathname !== window.location.pathname) switching = Date.now();
    } catch (err) { /* not a URL: not a page link */ }
  }, true);
  h.pushState = function (state, title, url) {
    let u = null;
    try { u = url == null ? null : new URL(url, window.location.href); } catch (err) { u = null; }
    if (u && u.pathname === window.location.pathname) {
      if (switching && Date.now() - switching < 15000) { pending = u.search; return; }
      return h.replaceState(state, title, url);
    }
    switching = 0;
    if (u && pending !== null && !u.search) { u.search = pending; url = u.toString(); }
    pending = null;
    return push(state, title, url);
  };
})();
</script>"""


def history_script() -> str:
    return _HISTORY_JS


def install_history() -> None:
    """Draw the (invisible) script that makes selection changes replace the history entry."""
    with st.sidebar:
        try:
            st.html(_HISTORY_JS, unsafe_allow_javascript=True)
        except TypeError:  # Streamlit before 1.46 runs no script in st.html: history as before
            pass
