"""The course exercises' kit: what ``exercises/<NN>-<name>/check.py`` and its probe scripts
use to check a learner's work (``course_kit.exercises``), and the Airflow facts a probe reads
in Airflow's own environment (``course_kit.airflow_facts``).

The kit sits beside the core, not inside it: it imports ``pipelines_core``, and the core knows
nothing of it. Every environment (the root one and each implementation's) installs it by path.
"""
