"""Course tooling, apart from what students import: notebook formatting and checks, the buttons and links
stamped into every notebook, and the worked solutions to the exercises.

``python -m course_tools fmt`` puts the notebooks in canonical form; ``make fmt`` runs it.
"""
