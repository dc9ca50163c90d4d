"""The app's pages, in one registry: file, title, icon and a one-line summary each.

Home.py hands this list to `st.navigation`; the sidebar, every page's title and the Home
page's guide read it from here. A new page is one line in PAGES (its file under pages/);
a line whose file does not exist yet is left out, so a page can be registered before it
lands. A page calls `layout.page(__file__, intro)` and gets its title and icon from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PageSpec:
    path: str          # relative to the repository root (where Home.py is)
    title: str
    icon: str
    summary: str
    default: bool = False

    @property
    def exists(self) -> bool:
        return (ROOT / self.path).is_file()


PAGES: list[PageSpec] = [
    PageSpec("pages/0_Overview.py", "Home", ":material/biotech:",
             "What is loaded, how to load the real release, and this guide.", default=True),
    PageSpec("pages/1_Dissection.py", "Dissection", ":material/bar_chart:",
             "For one group, the probability that each judge prefers the response that is better on one "
             "property. Compare judges, or one judge across all groups."),
    PageSpec("pages/2_Similarity.py", "Similarity", ":material/grid_on:",
             "How alike judges' preferences are: correlation of their weights, overall or per group."),
    PageSpec("pages/3_Samples_and_SHAP.py", "Samples & SHAP", ":material/search:",
             "Browse pairs with their annotations; see why a judge chose as it did (SHAP)."),
    PageSpec("pages/4_Statistics.py", "Statistics", ":material/analytics:",
             "Property scores, prerequisite counts, correlations, agreement between judges, length effect."),
    PageSpec("pages/5_Add_judge.py", "Add judge", ":material/person_add:",
             "Upload a judge's labels, fit it and compare it to the others."),
    PageSpec("pages/6_Annotate.py", "Annotate", ":material/edit_note:", "Annotate new raw pairs with an LLM."),
    PageSpec("pages/7_SQL.py", "SQL", ":material/terminal:", "Ad-hoc read-only SQL over the database."),
    PageSpec("pages/8_Groups.py", "Groups", ":material/workspaces:",
             "Your own slices of the pairs (a SQL condition), fitted like the paper's groups."),
    PageSpec("pages/9_Leaderboard.py", "Leaderboard", ":material/leaderboard:",
             "Bradley-Terry strengths of the response models, raw or controlled for properties."),
    PageSpec("pages/10_What_if.py", "What if", ":material/alt_route:",
             "How a model's win rate would move if its responses were better or worse on one property."),
    PageSpec("pages/11_Models.py", "Models", ":material/smart_toy:",
             "Each response model's battles, win rates and style profile; how two models' answers differ."),
]


def available() -> list[PageSpec]:
    """The registered pages whose files exist, in menu order."""
    return [p for p in PAGES if p.exists]


def spec_for(file: str | Path) -> PageSpec | None:
    """The registry entry of a page file (as a page passes `__file__`)."""
    target = Path(file).resolve()
    return next((p for p in PAGES if (ROOT / p.path).resolve() == target), None)


def leave_pages_folder_mode() -> None:
    """A link straight to a page (`.../Dissection`) on a fresh server ran that page file alone:
    Streamlit starts in its old `pages/`-folder mode until Home.py's st.navigation has run once,
    so the menu listed the files (a second home, "Overview", no icons), Home.py's warm-up never
    started, and the server stayed so until someone opened the home page. So register the pages
    here (st.navigation leaves that mode), run the page the URL names inside this same run (a
    button's click stays with it; a rerun would lose it), and stop the outer run."""
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager  # Streamlit's flag for that mode

    if PagesManager.uses_pages_directory:
        from ui import warmup  # what Home.py starts after the page

        try:
            run()
        finally:
            warmup.start()
        st.stop()


def run() -> None:
    """Register every available page with st.navigation and run the one the URL asks for."""
    import streamlit as st

    from ui import state

    pages = [st.Page(p.path, title=p.title, icon=p.icon, default=p.default) for p in available()]
    page = st.navigation(pages)
    state.install_history()  # first, so that the page's own URL writes already replace
    page.run()
