"""Where the course lives: the one place to change when the repository moves.

After editing ``REPO_SLUG`` or ``BRANCH``, run ``make fmt``: it re-stamps the
Colab / GitHub buttons and the Colab bootstrap cell of every notebook.
"""

from __future__ import annotations

REPO_SLUG = "dip-course/deep-image-prior-course"
#: where the student edition (``make student``) is published: no solutions in it
STUDENT_REPO_SLUG = "dip-course/deep-image-prior-course-student"
BRANCH = "main"
#: folder Colab clones the course into
COLAB_DIR = "/content/deep-image-prior-course"
#: environment variables the Colab bootstrap reads for another clone address and folder (tests, mirrors)
CLONE_URL_ENV = "DIP_COURSE_GIT_URL"
COURSE_DIR_ENV = "DIP_COURSE_DIR"


def github_url(path: str = "", slug: str | None = None) -> str:
    """Web address of ``path`` (relative to the repository root) on GitHub."""
    base = f"https://github.com/{slug or REPO_SLUG}"
    return f"{base}/blob/{BRANCH}/{path}" if path else base


def colab_url(path: str, slug: str | None = None) -> str:
    """Address that opens the notebook at ``path`` in Google Colab."""
    return f"https://colab.research.google.com/github/{slug or REPO_SLUG}/blob/{BRANCH}/{path}"


def clone_url(slug: str | None = None) -> str:
    """What ``git clone`` needs to fetch the course."""
    return f"https://github.com/{slug or REPO_SLUG}.git"
