"""The statistical models: the dissection posterior (`bayes.py` over the EP engine `ep.py`), held-out
metrics (`heldout.py`), fitting every judge x group (`fitting.py`), Bradley-Terry (`bradley_terry.py`)
and the original project's fit files (`fitted_paras.py`)."""
