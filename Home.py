"""The dashboard's entry point: `streamlit run Home.py`.

The database is $PREFDISSECT_DB or data/preference.duckdb. Every page is registered in
ui/navigation.py (st.navigation); the home page itself is pages/0_Overview.py. Heavy imports
(shap, openai) start in a background thread once per server process, after the first page is
drawn: started before, they competed with that page's own imports and slowed the first visit.
"""

from ui import navigation, warmup

try:
    navigation.run()
finally:  # also after st.stop() or st.rerun() ended the page
    warmup.start()
