"""The dashboard's entry point: `streamlit run Home.py`.

The database is $PREFDISSECT_DB or data/preference.duckdb. Every page is registered in
ui/navigation.py (st.navigation); the home page itself is pages/0_Overview.py. Heavy imports
(shap, openai) start in a background thread here, once per server process.
"""

from ui import navigation, warmup

warmup.start()
navigation.run()
