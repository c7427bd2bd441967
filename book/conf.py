"""Sphinx settings for the rendered course (``make book``): every notebook executed by myst-nb."""

from course_tools import course  # installed with the course (pip install -e .)

project = "Deep Image Prior, from a convolution by hand to the skip network"
author = "the course's authors"
extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "README.md", "**/runs"]
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# every notebook is run afresh, in the profile DIP_PROFILE names; a cell that fails stops the build
nb_execution_mode = "force"
nb_execution_timeout = 3600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

html_theme = "sphinx_book_theme"
html_title = "Deep Image Prior course"
html_theme_options = {
    "repository_url": course.github_url(),
    "repository_branch": course.BRANCH,
    "use_repository_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "show_toc_level": 2,
}
