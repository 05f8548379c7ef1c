# MOLT_ENV: PYTHONPATH=differential/molt_format/cases/lib
# A module found through MOLT_ENV's PYTHONPATH (declared as the suite's data).
import helper_values
print(helper_values.triple(14))
